//! Texts the sync (and the contact base's validation) write in English, said in the page's
//! language.
//!
//! **Skip reasons.** A run records each skipped record with its reason as English text (the
//! `Display` of [`lb_core::plan::SkipReason`], stored by the engine in the run's counts). Nothing
//! new is stored: the page recognises the text by rebuilding each variant's `Display` with
//! marked placeholders, so a reworded English message is still recognised as long as its
//! variant exists, and [`SkipReason::code`] picks the French wording. A text no variant matches
//! (a run recorded by another version) is shown as recorded. A plan in memory (the preview) is
//! translated from the enum directly.
//!
//! **Credential guidance.** The lines come from a closed set (`lb_salesforce::AuthError::
//! guidance`, plus the connection report's note about the org's address): each is looked up
//! word for word; the one that starts with "What to do:" loses that prefix, which the page
//! already prints as a heading. An unknown line is shown as it came.

use std::sync::LazyLock;

use lb_core::model::ContactId;
use lb_core::plan::SkipReason;
use lb_engine::deletes::TombstoneSkip;

use super::Lang;

/// Marks placeholder `n` inside a rebuilt English text (never found in real data).
fn mark(n: usize) -> String {
    format!("\u{1}{n}\u{1}")
}

/// One English text as literal pieces and placeholder numbers, in order.
#[derive(Debug)]
struct Pattern {
    pieces: Vec<Piece>,
}

#[derive(Debug)]
enum Piece {
    Text(String),
    Slot(usize),
}

impl Pattern {
    fn of(marked: &str) -> Pattern {
        let mut pieces = Vec::new();
        for (i, part) in marked.split('\u{1}').enumerate() {
            if i % 2 == 0 {
                if !part.is_empty() {
                    pieces.push(Piece::Text(part.to_owned()));
                }
            } else if let Ok(n) = part.parse() {
                pieces.push(Piece::Slot(n));
            }
        }
        Pattern { pieces }
    }

    /// The placeholder values if `text` has this shape.
    fn captures(&self, text: &str) -> Option<Vec<(usize, String)>> {
        let mut rest = text;
        let mut out = Vec::new();
        let mut open: Option<usize> = None;
        for (i, piece) in self.pieces.iter().enumerate() {
            match piece {
                Piece::Slot(n) => open = Some(*n),
                Piece::Text(lit) => {
                    let last = i + 1 == self.pieces.len();
                    match open.take() {
                        None => rest = rest.strip_prefix(lit.as_str())?,
                        Some(n) => {
                            let at = if last {
                                rest.strip_suffix(lit.as_str())?.len()
                            } else {
                                rest.find(lit.as_str())?
                            };
                            out.push((n, rest[..at].to_owned()));
                            rest = &rest[at + lit.len()..];
                        }
                    }
                }
            }
        }
        match open {
            Some(n) => out.push((n, rest.to_owned())),
            None if !rest.is_empty() => return None,
            None => {}
        }
        Some(out)
    }
}

/// Each skip reason with its placeholders marked, and its pattern.
static SKIP_PATTERNS: LazyLock<Vec<(&'static str, Pattern)>> = LazyLock::new(|| {
    let s = |n| mark(n);
    let id = |n| ContactId(mark(n));
    let samples = [
        SkipReason::NoEmail,
        SkipReason::InvalidEmail(s(0)),
        SkipReason::ContactNotFlagged,
        SkipReason::ConvertedLead { contact_id: None },
        SkipReason::ConvertedContactLinkedElsewhere {
            contact_id: s(0),
            linked_to: id(1),
        },
        SkipReason::DuplicateEmailHere { kept: id(0) },
        SkipReason::DuplicateInOrg { primary: s(0) },
        SkipReason::EmailLinkedElsewhere {
            org_id: s(0),
            contact_id: id(1),
        },
        SkipReason::EmailIsUnflaggedContact { org_id: s(0) },
        SkipReason::MissingRequiredField { field: s(0) },
        SkipReason::EmailTakenHere { contact_id: id(0) },
        SkipReason::ConflictingLink { other: s(0) },
    ];
    // The engine's own reasons for a contact whose org record was deleted (issue 6).
    let tombstones = [
        TombstoneSkip::DeletedInOrg {
            object: s(0),
            org_id: s(1),
            when: s(2),
        },
        TombstoneSkip::MergedIntoLinked {
            object: s(0),
            org_id: s(1),
            master_id: s(2),
            when: s(3),
        },
    ];
    samples
        .iter()
        .map(|r| (r.code(), Pattern::of(&r.to_string())))
        .chain(
            tombstones
                .iter()
                .map(|r| (r.code(), Pattern::of(&r.to_string()))),
        )
        .collect()
});

/// The French wording of a skip reason, `{0}`, `{1}` standing for its data (numbered as in
/// [`SKIP_PATTERNS`]). A `match` on the enum would not help here (the page only has text), so a
/// test checks that every code has its entry.
fn skip_fr(code: &str) -> Option<&'static str> {
    Some(match code {
        "no_email" => "sans email : une fiche sans email n'est jamais synchronisée (R-SYNC-1)",
        "invalid_email" => "`{0}` n'est pas un email valide (R-SYNC-1)",
        "contact_not_flagged" => "Contact non marqué sync_to_plezi = yes (R-FIELD-2)",
        "converted_lead" => "piste convertie : son Contact la représente (R-SYNC-6)",
        "converted_contact_linked_elsewhere" => {
            "piste convertie dont le Contact {0} est déjà relié au contact {1}"
        }
        "duplicate_email_here" => "un autre contact d'ici a le même email ({0} est synchronisé)",
        "duplicate_in_org" => "doublon de {0} dans l'org (même email, R-SYNC-3)",
        "email_linked_elsewhere" => {
            "l'email appartient à la fiche {0} de l'org, déjà relié au contact {1}"
        }
        "email_is_unflagged_contact" => {
            "l'email est celui d'un Contact de l'org ({0}) non marqué pour la synchronisation : aucune piste n'est créée pour lui"
        }
        "missing_required_field" => {
            "Salesforce exige {0} pour créer une piste ; il est vide et aucune valeur de repli n'est définie"
        }
        "email_taken_here" => "le contact {0} d'ici a déjà cet email",
        "conflicting_link" => "l'entrée contient un second lien pour cette fiche ({0})",
        "deleted_in_org" => {
            "son {0} Salesforce {1} a été supprimé dans l'org le {2} ; non synchronisé (aucun Lead n'est recréé) tant que sa suppression n'est pas levée (« Synchroniser à nouveau »)"
        }
        "merged_into_linked" => {
            "son {0} Salesforce {1} a été fusionné dans {2} le {3}, qui est lié à un autre contact ; non synchronisé tant que sa suppression n'est pas levée (« Synchroniser à nouveau »)"
        }
        _ => return None,
    })
}

fn fill(template: &str, values: &[(usize, String)]) -> String {
    let mut out = template.to_owned();
    for (n, value) in values {
        out = out.replace(&format!("{{{n}}}"), value);
    }
    out
}

/// A skip reason as a run recorded it (English text), in `lang`.
pub(crate) fn recorded_skip_reason(lang: Lang, recorded: &str) -> String {
    if lang == Lang::En {
        return recorded.to_owned();
    }
    SKIP_PATTERNS
        .iter()
        .find_map(|(code, pattern)| {
            let values = pattern.captures(recorded)?;
            Some(fill(skip_fr(code)?, &values))
        })
        .unwrap_or_else(|| recorded.to_owned())
}

/// A skip reason of a plan in memory, in `lang`.
pub(crate) fn skip_reason(lang: Lang, reason: &SkipReason) -> String {
    recorded_skip_reason(lang, &reason.to_string())
}

const WHAT_TO_DO: &str = "What to do: ";

/// The credential guidance lines (`AuthError::guidance`) and their French. The English must
/// be word for word what `lb_salesforce` says (a test walks every failure).
const GUIDANCE_FR: &[(&str, &str)] = &[
    (
        "Salesforce gives the same answer for several causes; most likely first:",
        "Salesforce donne la même réponse pour plusieurs causes ; la plus probable d'abord :",
    ),
    (
        "1. The integration user's password expired or was changed (orgs force a change about every 90 days).",
        "1. Le mot de passe de l'utilisateur d'intégration a expiré ou a été changé (les orgs imposent un changement environ tous les 90 jours).",
    ),
    (
        "2. The security token was reset: every password change resets it and Salesforce emails a new one.",
        "2. Le jeton de sécurité a été réinitialisé : chaque changement de mot de passe le réinitialise et Salesforce en envoie un nouveau par e-mail.",
    ),
    (
        "3. The username-password flow is blocked in this org (the default since Summer '23: Setup > OAuth and OpenID Connect Settings > Allow OAuth Username-Password Flows).",
        "3. Le mode nom d'utilisateur-mot de passe est bloqué dans cette org (par défaut depuis Summer '23 : Configuration > OAuth and OpenID Connect Settings > Allow OAuth Username-Password Flows).",
    ),
    (
        "What to do: reset the password AND the security token and enter both here, or switch to an OAuth flow that does not expire (web-server login with a refresh token, client credentials, or JWT bearer).",
        "réinitialisez le mot de passe ET le jeton de sécurité et saisissez les deux ici, ou passez à un mode OAuth qui n'expire pas (connexion web avec jeton d'actualisation, identifiants client ou JWT bearer).",
    ),
    (
        "The integration user's password has expired (orgs force a change about every 90 days).",
        "Le mot de passe de l'utilisateur d'intégration a expiré (les orgs imposent un changement environ tous les 90 jours).",
    ),
    (
        "The user or the app was refused; check the connected app's settings and the user's access.",
        "L'utilisateur ou l'application a été refusé ; vérifiez les réglages de l'application connectée et les accès de l'utilisateur.",
    ),
    (
        "The integration user is deactivated: reactivate it in Setup > Users, or choose another user.",
        "L'utilisateur d'intégration est désactivé : réactivez-le dans Configuration > Utilisateurs, ou choisissez un autre utilisateur.",
    ),
    (
        "The login came from an IP address or at an hour the user's profile does not allow: add this server's address to the profile's Login IP Ranges (or the org's trusted IP ranges), or relax the app's IP policy.",
        "La connexion venait d'une adresse IP ou d'une heure que le profil de l'utilisateur n'autorise pas : ajoutez l'adresse de ce serveur aux plages IP de connexion du profil (ou aux plages IP de confiance de l'org), ou assouplissez la politique IP de l'application.",
    ),
    (
        "The stored authorization expired or was revoked (by an admin, the app's refresh-token policy, or more than 5 logins for this app): sign in to Salesforce again from the settings page.",
        "L'autorisation enregistrée a expiré ou a été révoquée (par un administrateur, la politique de jeton d'actualisation de l'application, ou plus de 5 connexions pour cette application) : reconnectez-vous à Salesforce depuis la page des réglages.",
    ),
    (
        "The sign-in took too long or was already used: start the Salesforce sign-in again.",
        "La connexion a pris trop de temps ou a déjà été utilisée : recommencez la connexion à Salesforce.",
    ),
    (
        "The user is not pre-authorized for this app: in the connected app's policies choose 'Admin approved users are pre-authorized' and add the user's profile or a permission set.",
        "L'utilisateur n'est pas pré-autorisé pour cette application : dans les politiques de l'application connectée, choisissez « Admin approved users are pre-authorized » et ajoutez le profil de l'utilisateur ou un ensemble d'autorisations.",
    ),
    (
        "This login needs the org's own My Domain address (https://<your-domain>.my.salesforce.com), not login.salesforce.com or test.salesforce.com.",
        "Cette connexion demande l'adresse My Domain de l'org (https://<votre-domaine>.my.salesforce.com), pas login.salesforce.com ni test.salesforce.com.",
    ),
    (
        "The app has no run-as user for the client-credentials flow: set one in the app's policies (Client Credentials Flow > Run As).",
        "L'application n'a pas d'utilisateur d'exécution pour le mode identifiants client : définissez-en un dans ses politiques (Client Credentials Flow > Run As).",
    ),
    (
        "The JWT audience was refused: use https://login.salesforce.com for production, https://test.salesforce.com for sandboxes.",
        "L'audience du JWT a été refusée : utilisez https://login.salesforce.com en production, https://test.salesforce.com pour les sandboxes.",
    ),
    (
        "The consumer key is not known to this org: copy it again from the connected app, and check that the login URL is this org's.",
        "La clé client n'est pas connue de cette org : copiez-la à nouveau depuis l'application connectée et vérifiez que l'URL de connexion est celle de cette org.",
    ),
    (
        "The consumer secret is wrong: copy it again from the connected app.",
        "Le secret client est faux : copiez-le à nouveau depuis l'application connectée.",
    ),
    (
        "This login method is not enabled for the app or the login URL is wrong: enable the flow in the connected app and use https with the org's login URL.",
        "Ce mode de connexion n'est pas activé pour l'application ou l'URL de connexion est fausse : activez le mode dans l'application connectée et utilisez https avec l'URL de connexion de l'org.",
    ),
    (
        "Too many logins for this user in the last hour: wait an hour before trying again.",
        "Trop de connexions pour cet utilisateur dans la dernière heure : attendez une heure avant de réessayer.",
    ),
    (
        "Check the connection settings.",
        "Vérifiez les réglages de connexion.",
    ),
    (
        "The exact reason is in Salesforce: Setup > Users > (the integration user) > Login History, or Setup > Login History.",
        "La raison exacte est dans Salesforce : Configuration > Utilisateurs > (l'utilisateur d'intégration) > Historique des connexions, ou Configuration > Historique des connexions.",
    ),
];

/// The connection report's note when the org answers from another address.
static ORG_MOVED: LazyLock<Pattern> = LazyLock::new(|| {
    Pattern::of(&format!(
        "Salesforce says this org lives at {0}, not {1}: the sync uses {0}.",
        mark(0),
        mark(1)
    ))
});

/// The notes a run records in its message, one per line (`lb_engine::runner`), English with
/// `{n}` placeholders, and their French. Recognised like the skip reasons: a reworded English
/// note is shown as recorded (the web tests run the engine and read these pages in French).
const RUN_NOTES: &[(&str, &str)] = &[
    (
        "{0} record(s) failed; each is listed with the org's error in `leadbridge runs show {1}`",
        "{0} fiche(s) en échec ; chacune est listée avec l'erreur de l'org dans `leadbridge runs show {1}`",
    ),
    (
        "the mapping changed since the last full sync: this run was a full resync (R-SYNC-5)",
        "le mapping a changé depuis la dernière synchro complète : cette synchro était une resynchronisation complète (R-SYNC-5)",
    ),
    (
        "the mapping changed since the last full sync: run `leadbridge sync --full` to bring every contact up to date (R-SYNC-5)",
        "le mapping a changé depuis la dernière synchro complète : lancez une resynchronisation complète (`leadbridge sync --full`) pour mettre chaque contact à jour (R-SYNC-5)",
    ),
    (
        "{0} duplicate group(s) in the org (same email on several records, R-SYNC-3): the first record of each is synced",
        "{0} groupe(s) de doublons dans l'org (même email sur plusieurs fiches, R-SYNC-3) : la première fiche de chaque groupe est synchronisée",
    ),
    (
        "contact {0}: a {1} with its email was created in the org after {2} was deleted; its tombstone is cleared and it syncs again",
        "contact {0} : un {1} avec son email a été créé dans l'org après la suppression de {2} ; il n'est plus exclu et se synchronise de nouveau",
    ),
    (
        "stopped by shutdown; the next run continues from here",
        "arrêtée par l'arrêt du serveur ; la prochaine synchro reprend à partir d'ici",
    ),
    (
        "Credentials rejected: Salesforce refused the {0} login ({1}: {2}). The sync is paused and nothing is lost; it resumes by itself once new credentials are saved (`leadbridge connect`).",
        "Identifiants refusés : Salesforce a refusé la connexion {0} ({1} : {2}). La synchronisation est en pause et rien n'est perdu ; elle reprend d'elle-même dès que de nouveaux identifiants sont enregistrés (`leadbridge connect`).",
    ),
    (
        "Credentials rejected: the {0} login could not be prepared here and nothing was sent to Salesforce ({1}). The sync is paused and nothing is lost; it resumes by itself once new credentials are saved (`leadbridge connect`).",
        "Identifiants refusés : la connexion {0} n'a pas pu être préparée ici et rien n'a été envoyé à Salesforce ({1}). La synchronisation est en pause et rien n'est perdu ; elle reprend d'elle-même dès que de nouveaux identifiants sont enregistrés (`leadbridge connect`).",
    ),
    (
        "the contact base failed: {0}",
        "la base de contacts a échoué : {0}",
    ),
];

static RUN_NOTE_PATTERNS: LazyLock<Vec<(Pattern, &'static str)>> =
    LazyLock::new(|| templates(RUN_NOTES));

/// A run's recorded message (its notes, one per line), in `lang`: each known note and
/// credential guidance line translated, any other line shown as recorded.
pub(crate) fn run_message(lang: Lang, message: &str) -> String {
    if lang == Lang::En {
        return message.to_owned();
    }
    message
        .lines()
        .map(|line| {
            if let Some(fr) = translated(&RUN_NOTE_PATTERNS, line) {
                return fr;
            }
            if GUIDANCE_FR.iter().any(|(en, _)| *en == line) {
                let fr = guidance_line(lang, line);
                return if line.starts_with(WHAT_TO_DO) {
                    format!("Que faire : {fr}")
                } else {
                    fr
                };
            }
            guidance_line(lang, line)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The contact base's answers to a bad input value (`lb_store`'s validation, `lb_core`'s
/// `EmailError`), as a form's visitor sees them on the refusal page, and their French.
const INPUT_PROBLEMS: &[(&str, &str)] = &[
    ("is required", "est obligatoire"),
    ("the email is blank", "l'email est vide"),
    (
        "`{0}` is not a valid email address",
        "« {0} » n'est pas une adresse email valide",
    ),
    ("is longer than {0} characters", "dépasse {0} caractères"),
    (
        "'{0}' is not a phone number",
        "« {0} » n'est pas un numéro de téléphone",
    ),
    ("'{0}' is not a number", "« {0} » n'est pas un nombre"),
    (
        "'{0}' is not a date (YYYY-MM-DD)",
        "« {0} » n'est pas une date (AAAA-MM-JJ)",
    ),
    (
        "'{0}' is not a boolean (true/false, yes/no)",
        "« {0} » n'est ni oui ni non (oui/non, yes/no, true/false)",
    ),
    (
        "'{0}' is not one of: {1}",
        "« {0} » ne fait pas partie des valeurs possibles : {1}",
    ),
    ("unknown field", "champ inconnu"),
];

static INPUT_PROBLEM_PATTERNS: LazyLock<Vec<(Pattern, &'static str)>> =
    LazyLock::new(|| templates(INPUT_PROBLEMS));

/// `(English, French)` templates with `{n}` placeholders as patterns.
fn templates(list: &'static [(&'static str, &'static str)]) -> Vec<(Pattern, &'static str)> {
    list.iter()
        .map(|(en, fr)| {
            let mut marked = (*en).to_owned();
            for n in 0..4 {
                marked = marked.replace(&format!("{{{n}}}"), &mark(n));
            }
            (Pattern::of(&marked), *fr)
        })
        .collect()
}

fn translated(patterns: &[(Pattern, &'static str)], text: &str) -> Option<String> {
    patterns
        .iter()
        .find_map(|(pattern, fr)| Some(fill(fr, &pattern.captures(text)?)))
}

/// What is wrong with one input value (a validation problem's message), in `lang`; a message
/// from another version is shown as it came.
pub(crate) fn input_problem(lang: Lang, message: &str) -> String {
    match lang {
        Lang::En => message.to_owned(),
        Lang::Fr => {
            translated(&INPUT_PROBLEM_PATTERNS, message).unwrap_or_else(|| message.to_owned())
        }
    }
}

/// The connection report's sentences (`lb_salesforce::Edition::explain`, the engine's field
/// checks), and their French.
const CONNECTION_TEXTS: &[(&str, &str)] = &[
    (
        "{0} includes the Salesforce API.",
        "{0} inclut l'API Salesforce.",
    ),
    (
        "{0} has the Salesforce API only with the API add-on, which Salesforce sells separately.",
        "{0} n'a l'API Salesforce qu'avec l'option API, que Salesforce vend séparément.",
    ),
    (
        "{0} does not include the Salesforce API; the connector needs Enterprise, Unlimited, Performance or Developer edition (or Professional with the API add-on).",
        "{0} n'inclut pas l'API Salesforce ; le connecteur demande l'édition Enterprise, Unlimited, Performance ou Developer (ou Professional avec l'option API).",
    ),
    (
        "Salesforce reports the edition as '{0}'; API access could not be determined.",
        "Salesforce indique l'édition « {0} » ; l'accès à l'API n'a pas pu être déterminé.",
    ),
    (
        "missing: run `leadbridge connect --create-fields` or create it in Setup",
        "absent : cochez la création des champs manquants (`leadbridge connect --create-fields`) ou créez-le dans la Configuration de Salesforce",
    ),
    (
        "optional; not mapped until it exists",
        "facultatif ; pas de mapping tant qu'il n'existe pas",
    ),
    (
        "is of type {0}, expected {1}",
        "est de type {0}, attendu : {1}",
    ),
    ("could not be created: {0}", "n'a pas pu être créé : {0}"),
];

static CONNECTION_PATTERNS: LazyLock<Vec<(Pattern, &'static str)>> =
    LazyLock::new(|| templates(CONNECTION_TEXTS));

/// A sentence of the connection report (the edition in plain words, a field check's detail),
/// in `lang`; an unknown one as it came.
pub(crate) fn connection_text(lang: Lang, text: &str) -> String {
    match lang {
        Lang::En => text.to_owned(),
        Lang::Fr => translated(&CONNECTION_PATTERNS, text).unwrap_or_else(|| text.to_owned()),
    }
}

/// One guidance line for a page under a "What to do" heading, in `lang`.
pub(crate) fn guidance_line(lang: Lang, line: &str) -> String {
    if lang == Lang::Fr {
        if let Some((_, fr)) = GUIDANCE_FR.iter().find(|(en, _)| *en == line) {
            return (*fr).to_owned();
        }
        if let Some(values) = ORG_MOVED.captures(line) {
            return fill(
                "Salesforce indique que cette org se trouve à {0}, pas à {1} : la synchronisation utilise {0}.",
                &values,
            );
        }
    }
    line.strip_prefix(WHAT_TO_DO).unwrap_or(line).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lb_salesforce::{AuthError, AuthFailure, GrantKind};

    /// Fails to compile when `SkipReason` gains a variant: add it to `SKIP_PATTERNS` and
    /// `skip_fr`, then here.
    #[allow(dead_code)]
    fn listed(r: &SkipReason) {
        match r {
            SkipReason::NoEmail
            | SkipReason::InvalidEmail(_)
            | SkipReason::ContactNotFlagged
            | SkipReason::ConvertedLead { .. }
            | SkipReason::ConvertedContactLinkedElsewhere { .. }
            | SkipReason::DuplicateEmailHere { .. }
            | SkipReason::DuplicateInOrg { .. }
            | SkipReason::EmailLinkedElsewhere { .. }
            | SkipReason::EmailIsUnflaggedContact { .. }
            | SkipReason::MissingRequiredField { .. }
            | SkipReason::EmailTakenHere { .. }
            | SkipReason::ConflictingLink { .. } => {}
        }
    }

    /// Same for the engine's tombstone reasons.
    #[allow(dead_code)]
    fn listed_tombstone(r: &TombstoneSkip) {
        match r {
            TombstoneSkip::DeletedInOrg { .. } | TombstoneSkip::MergedIntoLinked { .. } => {}
        }
    }

    #[test]
    fn every_skip_reason_has_a_pattern_and_a_french_wording() {
        assert_eq!(
            SKIP_PATTERNS.len(),
            12 + 2,
            "one pattern per variant listed in `listed` and per `TombstoneSkip`"
        );
        for (code, pattern) in SKIP_PATTERNS.iter() {
            assert!(skip_fr(code).is_some(), "no French for {code}");
            assert!(!pattern.pieces.is_empty(), "{code}");
        }
        let codes: std::collections::HashSet<_> = SKIP_PATTERNS.iter().map(|(c, _)| c).collect();
        assert_eq!(codes.len(), SKIP_PATTERNS.len());
    }

    #[test]
    fn recorded_reasons_are_recognised_with_their_data() {
        let cases = [
            (
                SkipReason::NoEmail,
                "sans email : une fiche sans email n'est jamais synchronisée",
            ),
            (
                SkipReason::InvalidEmail("ann@@x".into()),
                "`ann@@x` n'est pas un email valide",
            ),
            (
                SkipReason::EmailLinkedElsewhere {
                    org_id: "00Q000000000001AAA".into(),
                    contact_id: ContactId("42".into()),
                },
                "l'email appartient à la fiche 00Q000000000001AAA de l'org, déjà relié au contact 42",
            ),
            (
                SkipReason::MissingRequiredField {
                    field: "Company".into(),
                },
                "Salesforce exige Company pour créer une piste",
            ),
            (
                SkipReason::DuplicateEmailHere {
                    kept: ContactId("9".into()),
                },
                "(9 est synchronisé)",
            ),
        ];
        for (reason, expected) in cases {
            let recorded = reason.to_string();
            let fr = recorded_skip_reason(Lang::Fr, &recorded);
            assert!(fr.contains(expected), "{recorded} → {fr}");
            assert_eq!(recorded_skip_reason(Lang::En, &recorded), recorded);
            assert_eq!(skip_reason(Lang::Fr, &reason), fr);
        }
        // The engine's tombstone reasons, recorded before they had a code, too.
        let deleted = "its Salesforce Lead 00Q000000000001AAA was deleted in the org on 2026-11-30T14:05:00Z; not synced (no Lead is re-created) until its deletion tombstone is cleared";
        assert_eq!(
            recorded_skip_reason(Lang::Fr, deleted),
            "son Lead Salesforce 00Q000000000001AAA a été supprimé dans l'org le 2026-11-30T14:05:00Z ; non synchronisé (aucun Lead n'est recréé) tant que sa suppression n'est pas levée (« Synchroniser à nouveau »)"
        );
        let merged = TombstoneSkip::MergedIntoLinked {
            object: "Lead".into(),
            org_id: "00Q000000000002AAA".into(),
            master_id: "00Q000000000003AAA".into(),
            when: "2026-11-30T14:05:00Z".into(),
        }
        .to_string();
        assert_eq!(
            recorded_skip_reason(Lang::Fr, &merged),
            "son Lead Salesforce 00Q000000000002AAA a été fusionné dans 00Q000000000003AAA le 2026-11-30T14:05:00Z, qui est lié à un autre contact ; non synchronisé tant que sa suppression n'est pas levée (« Synchroniser à nouveau »)"
        );
        assert_eq!(recorded_skip_reason(Lang::En, &merged), merged);
        // A text from another version is shown as recorded.
        assert_eq!(
            recorded_skip_reason(Lang::Fr, "some future reason"),
            "some future reason"
        );
    }

    #[test]
    fn run_notes_are_said_in_french_line_by_line_and_unknown_lines_kept() {
        let message = "2 duplicate group(s) in the org (same email on several records, R-SYNC-3): the first record of each is synced\n\
            contact 7: a Lead with its email was created in the org after 00Q000000000001AAA was deleted; its tombstone is cleared and it syncs again\n\
            something new";
        assert_eq!(
            run_message(Lang::Fr, message),
            "2 groupe(s) de doublons dans l'org (même email sur plusieurs fiches, R-SYNC-3) : la première fiche de chaque groupe est synchronisée\n\
             contact 7 : un Lead avec son email a été créé dans l'org après la suppression de 00Q000000000001AAA ; il n'est plus exclu et se synchronise de nouveau\n\
             something new"
        );
        assert_eq!(run_message(Lang::En, message), message);
        let what = "What to do: reset the password AND the security token and enter both here, or switch to an OAuth flow that does not expire (web-server login with a refresh token, client credentials, or JWT bearer).";
        assert!(run_message(Lang::Fr, what).starts_with("Que faire : réinitialisez"));
        // The engine's own words for refused credentials, both kinds, are recognised.
        for (error, fr) in [
            (
                "invalid_grant",
                "Identifiants refusés : Salesforce a refusé la connexion jwt-bearer (invalid_grant : key).",
            ),
            (
                lb_salesforce::AuthError::LOCAL,
                "Identifiants refusés : la connexion jwt-bearer n'a pas pu être préparée ici et rien n'a été envoyé à Salesforce (key).",
            ),
        ] {
            let said = lb_engine::Health::CredentialsRejected {
                error: error.into(),
                description: "key".into(),
                grant: "jwt-bearer".into(),
                guidance: vec![],
                credentials_version: 1,
                since: time::OffsetDateTime::UNIX_EPOCH,
            }
            .explain();
            let first = said.lines().next().unwrap();
            assert!(run_message(Lang::Fr, first).starts_with(fr), "{first}");
        }
        for (en, fr) in RUN_NOTES {
            for n in 0..4 {
                assert_eq!(
                    en.contains(&format!("{{{n}}}")),
                    fr.contains(&format!("{{{n}}}")),
                    "{en}"
                );
            }
        }
    }

    #[test]
    fn the_edition_is_explained_in_french_for_every_kind_of_api_access() {
        for (org_type, expected) in [
            (
                "Developer Edition",
                "Developer Edition inclut l'API Salesforce.",
            ),
            (
                "Professional Edition",
                "Professional Edition n'a l'API Salesforce qu'avec l'option API",
            ),
            (
                "Group Edition",
                "Group Edition n'inclut pas l'API Salesforce",
            ),
            ("Mystery Edition", "Salesforce indique l'édition « "),
        ] {
            let en = lb_salesforce::Edition::parse(org_type).explain();
            let fr = connection_text(Lang::Fr, &en);
            assert!(fr.starts_with(expected), "{en} → {fr}");
            assert_eq!(connection_text(Lang::En, &en), en);
        }
        assert_eq!(
            connection_text(Lang::Fr, "is of type Number, expected Text"),
            "est de type Number, attendu : Text"
        );
    }

    #[test]
    fn input_problems_are_said_in_french_with_their_values() {
        let cases = [
            (
                lb_core::contact::Email::parse("bad")
                    .unwrap_err()
                    .to_string(),
                "« bad » n'est pas une adresse email valide",
            ),
            ("is required".to_owned(), "est obligatoire"),
            (
                "is longer than 255 characters".to_owned(),
                "dépasse 255 caractères",
            ),
            (
                "'nope' is not one of: saas, r&d".to_owned(),
                "« nope » ne fait pas partie des valeurs possibles : saas, r&d",
            ),
            ("something else".to_owned(), "something else"),
        ];
        for (en, fr) in cases {
            assert_eq!(input_problem(Lang::Fr, &en), fr);
            assert_eq!(input_problem(Lang::En, &en), en);
        }
        for (en, fr) in INPUT_PROBLEMS {
            for n in 0..4 {
                let slot = format!("{{{n}}}");
                assert_eq!(en.contains(&slot), fr.contains(&slot), "{en}");
            }
        }
    }

    #[test]
    fn every_guidance_line_of_every_failure_is_translated_and_none_repeats_the_heading() {
        let failures = [
            AuthFailure::BadCredentials,
            AuthFailure::PasswordExpired,
            AuthFailure::InactiveUser,
            AuthFailure::IpRestricted,
            AuthFailure::ExpiredRefreshToken,
            AuthFailure::ExpiredAuthorizationCode,
            AuthFailure::NotApproved,
            AuthFailure::WrongDomain,
            AuthFailure::NoClientCredentialsUser,
            AuthFailure::BadAudience,
            AuthFailure::UnknownClientId,
            AuthFailure::BadClientSecret,
            AuthFailure::UnsupportedGrant,
            AuthFailure::RateLimited,
            AuthFailure::Other,
            AuthFailure::Local,
        ];
        let grants = [
            GrantKind::Password,
            GrantKind::ClientCredentials,
            GrantKind::JwtBearer,
            GrantKind::AuthorizationCode,
            GrantKind::RefreshToken,
        ];
        for failure in failures {
            for grant in grants {
                let err = AuthError {
                    failure,
                    grant,
                    error: "invalid_grant".into(),
                    description: "x".into(),
                    status: 400,
                };
                for line in err.guidance() {
                    assert!(
                        GUIDANCE_FR.iter().any(|(en, _)| *en == line),
                        "untranslated guidance: {line}"
                    );
                    for lang in [Lang::En, Lang::Fr] {
                        let shown = guidance_line(lang, &line);
                        assert!(
                            !shown.starts_with("What to do") && !shown.starts_with("Que faire"),
                            "{shown}"
                        );
                    }
                }
            }
        }
        assert_eq!(
            guidance_line(
                Lang::Fr,
                "Salesforce says this org lives at https://a.my.salesforce.com, not https://login.salesforce.com: the sync uses https://a.my.salesforce.com."
            ),
            "Salesforce indique que cette org se trouve à https://a.my.salesforce.com, pas à https://login.salesforce.com : la synchronisation utilise https://a.my.salesforce.com."
        );
    }
}
