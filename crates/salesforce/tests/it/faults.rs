//! Every fault the emulator can inject, and the budget: what is retried, what stops the work,
//! and that nothing already accepted is lost.

use lb_emulator::Config;
use lb_salesforce::{Budget, EndpointKind, Error, RecordResult, RetryPolicy};
use serde_json::json;

use crate::helpers::{count, leads, org, org_with};

#[tokio::test]
async fn locked_rows_are_resent_with_backoff_and_then_saved() {
    let org = org().await;
    let client = org.client();
    org.fault("unable_to_lock_row", 1).await;
    let report = client.create("Lead", &leads(5, "lock.example")).await;
    assert_eq!(report.saved(), 5, "{report:?}");
    assert_eq!(count(&client, EndpointKind::Collections), 2);
}

#[tokio::test]
async fn rows_still_locked_after_the_retries_keep_salesforce_error() {
    let org = org().await;
    let mut config = org.config();
    config.retry = RetryPolicy {
        max_retries: 2,
        ..config.retry
    };
    let client = org.client_with(config);
    org.fault("unable_to_lock_row", 10).await;
    let report = client.create("Lead", &leads(3, "lock.example")).await;
    assert_eq!(
        count(&client, EndpointKind::Collections),
        3,
        "first attempt + 2 retries"
    );
    for o in &report.outcomes {
        let RecordResult::Failed(e) = &o.result else {
            panic!("{o:?}")
        };
        assert_eq!(e[0].error_code, "UNABLE_TO_LOCK_ROW");
    }
}

#[tokio::test]
async fn duplicate_rule_refusals_are_per_record_outcomes_not_retried() {
    let org = org().await;
    let client = org.client();
    org.fault("duplicates_detected", 1).await;
    let report = client.create("Lead", &leads(2, "dup.example")).await;
    assert_eq!(count(&client, EndpointKind::Collections), 1);
    assert!(report.stopped.is_none());
    for o in &report.outcomes {
        let RecordResult::Failed(e) = &o.result else {
            panic!("{o:?}")
        };
        assert_eq!(e[0].error_code, "DUPLICATES_DETECTED");
    }
}

#[tokio::test]
async fn unavailable_server_is_retried_for_reads() {
    let org = org().await;
    let client = org.client();
    client.query_records("SELECT Id FROM Lead").await.unwrap();
    org.fault("server_unavailable", 2).await;
    client.query_records("SELECT Id FROM Lead").await.unwrap();
    assert_eq!(
        count(&client, EndpointKind::Query),
        4,
        "1 + (2 refused + 1 served)"
    );
}

#[tokio::test]
async fn unavailable_server_is_not_retried_for_creates() {
    let org = org().await;
    let client = org.client();
    client.query_records("SELECT Id FROM Lead").await.unwrap();
    org.fault("server_unavailable", 1).await;
    let report = client.create("Lead", &leads(2, "u.example")).await;
    assert_eq!(
        count(&client, EndpointKind::Collections),
        1,
        "a create is never sent twice"
    );
    for o in &report.outcomes {
        let RecordResult::Failed(e) = &o.result else {
            panic!("{o:?}")
        };
        assert_eq!(e[0].error_code, "SERVER_UNAVAILABLE");
    }
    assert_eq!(
        client
            .query_records("SELECT Id FROM Lead")
            .await
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn request_limit_exceeded_stops_the_work_and_keeps_the_rows() {
    let org = org().await;
    let client = org.client();
    client.query_records("SELECT Id FROM Lead").await.unwrap();
    org.fault("request_limit_exceeded", 1).await;
    let report = client.create("Lead", &leads(450, "limit.example")).await;
    let Some(Error::RequestLimitExceeded { message, .. }) = &report.stopped else {
        panic!("{:?}", report.stopped)
    };
    assert_eq!(message, "TotalRequests Limit exceeded.");
    assert_eq!(report.unprocessed(), 450);
    assert_eq!(
        count(&client, EndpointKind::Collections),
        1,
        "no further chunk is sent"
    );
    // The client stays stopped without spending calls, until resumed.
    let before = client.request_counts().total();
    assert!(matches!(
        client.query_records("SELECT Id FROM Lead").await,
        Err(Error::RequestLimitExceeded { .. })
    ));
    assert_eq!(client.request_counts().total(), before);
    client.resume();
    assert!(client.query_records("SELECT Id FROM Lead").await.is_ok());
}

#[tokio::test]
async fn budget_stops_before_the_share_of_the_allowance_is_spent() {
    // Allowance 4 calls a day, this connector may use up to half: 2 calls.
    let org = org_with(Config {
        daily_api_limit: Some(4),
        ..Config::default()
    })
    .await;
    let mut config = org.config();
    config.budget = Budget { max_share: 0.5 };
    let client = org.client_with(config);
    let report = client.create("Lead", &leads(450, "budget.example")).await;
    assert_eq!(report.saved(), 400, "two chunks fit the budget");
    assert_eq!(report.unprocessed(), 50);
    assert!(
        matches!(report.stopped, Some(Error::BudgetExhausted { .. })),
        "{:?}",
        report.stopped
    );
    assert_eq!(client.budget_remaining(), Some(0));
    let stats = org.stats().await;
    assert_eq!(stats["api_requests"], json!(2));
}

#[tokio::test]
async fn budget_can_be_checked_before_starting() {
    let org = org_with(Config {
        daily_api_limit: Some(100),
        ..Config::default()
    })
    .await;
    let mut config = org.config();
    config.budget = Budget { max_share: 0.5 };
    let client = org.client_with(config);
    // No reading yet: the check reads /limits (one call), then answers.
    let info = client.check_budget(10).await.unwrap();
    assert_eq!(info.max, 100);
    assert!(matches!(
        client.check_budget(60).await,
        Err(Error::BudgetExhausted { .. })
    ));
    assert_eq!(count(&client, EndpointKind::Limits), 1);
}

#[tokio::test]
async fn timeouts_are_retried_for_reads_but_never_for_creates() {
    let org = org_with(Config {
        latency: std::time::Duration::from_millis(2_500),
        ..Config::default()
    })
    .await;
    let mut config = org.config();
    config.timeout = std::time::Duration::from_millis(800);
    config.retry = RetryPolicy {
        max_retries: 2,
        ..config.retry
    };
    let client = org.client_with(config);
    let err = client
        .query_records("SELECT Id FROM Lead")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(
        count(&client, EndpointKind::Query),
        3,
        "first attempt + 2 retries"
    );

    let report = client.create("Lead", &leads(2, "slow.example")).await;
    assert_eq!(
        count(&client, EndpointKind::Collections),
        1,
        "a create whose answer was lost is not sent again"
    );
    assert_eq!(report.indeterminate(), 2, "{report:?}");
    assert!(matches!(report.stopped, Some(Error::Transport(_))));
}
