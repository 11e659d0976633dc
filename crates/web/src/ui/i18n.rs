//! The web app's words, in English and French.
//!
//! **Job.** Pick the reader's language (a cookie set from the language switch, else the
//! browser's `Accept-Language`, else English) and give every page its strings from one
//! catalogue. **Invariant:** every key exists in both languages (a unit test checks the
//! catalogue, and another checks that every key a template asks for exists), so a page never
//! shows a key instead of words.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::HeaderMap;

/// Name of the cookie that remembers the chosen language.
pub(crate) const LANG_COOKIE: &str = "lb_lang";

/// A language the app speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Fr,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The language for a request: the cookie's choice, else the first language of
    /// `Accept-Language` (by its `q` weight) that we speak, else English.
    pub fn negotiate(headers: &HeaderMap) -> Lang {
        let cookies = headers.get_all(axum::http::header::COOKIE);
        for header in cookies.iter().filter_map(|v| v.to_str().ok()) {
            for pair in header.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=')
                    && name == LANG_COOKIE
                    && let Some(lang) = Lang::parse(value)
                {
                    return lang;
                }
            }
        }
        let accept = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut offers: Vec<(f32, usize, Lang)> = accept
            .split(',')
            .enumerate()
            .filter_map(|(i, item)| {
                let mut parts = item.split(';');
                let lang = Lang::parse(parts.next()?)?;
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0).then_some((q, i, lang))
            })
            .collect();
        // Highest weight first; equal weights keep the browser's order.
        offers.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        offers.first().map(|o| o.2).unwrap_or(Lang::En)
    }

    /// The words for `key`; the key itself (and a warning) if the catalogue lacks it.
    pub fn t(self, key: &str) -> &'static str {
        match CATALOGUE.get(key) {
            Some((en, fr)) => match self {
                Lang::En => en,
                Lang::Fr => fr,
            },
            None => {
                tracing::warn!(key, "missing UI string");
                // Leaking is bounded: keys come from templates, a fixed set.
                Box::leak(key.to_owned().into_boxed_str())
            }
        }
    }
}

#[cfg(test)]
/// Whether the catalogue has `key` (in both languages, see the module docs).
pub(crate) fn has_key(key: &str) -> bool {
    CATALOGUE.contains_key(key)
}

static CATALOGUE: LazyLock<HashMap<&'static str, (&'static str, &'static str)>> =
    LazyLock::new(|| ENTRIES.iter().map(|(k, en, fr)| (*k, (*en, *fr))).collect());

/// `(key, English, French)`.
const ENTRIES: &[(&str, &str, &str)] = &[
    // Layout and navigation.
    ("app.name", "leadbridge", "leadbridge"),
    ("nav.sync", "Sync", "Synchronisation"),
    ("nav.contacts", "Contacts", "Contacts"),
    ("nav.forms", "Forms", "Formulaires"),
    ("nav.settings", "Configuration", "Configuration"),
    (
        "nav.settings_api",
        "API/CRM configuration",
        "Configuration API/CRM",
    ),
    ("nav.salesforce", "Salesforce", "Salesforce"),
    ("nav.mapping", "Mapping", "Mapping"),
    ("nav.sign_out", "Sign out", "Se déconnecter"),
    ("nav.signed_in_as", "Signed in as", "Connecté en tant que"),
    ("nav.language", "Language", "Langue"),
    ("nav.switch_language", "Français", "English"),
    ("common.save", "Save", "Enregistrer"),
    ("common.set", "set", "renseigné"),
    ("common.not_set", "not set", "non renseigné"),
    ("common.yes", "yes", "oui"),
    ("common.no", "no", "non"),
    ("common.none", "none", "aucun"),
    ("common.back", "Back", "Retour"),
    ("common.search", "Search", "Rechercher"),
    ("common.next_page", "Next page", "Page suivante"),
    ("common.never", "never", "jamais"),
    // Before a value: French puts a (non-breaking) space before the colon.
    ("common.colon", ": ", "\u{a0}: "),
    (
        "common.open_in_salesforce",
        "Open in Salesforce",
        "Ouvrir dans Salesforce",
    ),
    // Contacts left out of the sync: their Salesforce record was deleted (issue 6).
    (
        "tomb.notice",
        "The Salesforce {object} {org_id} was deleted on {date} (run #{run}); this contact is no longer synced.",
        "Le {object} Salesforce {org_id} a été supprimé le {date} (synchro n°{run}) ; ce contact n'est plus synchronisé.",
    ),
    (
        "tomb.merged",
        "It was merged into {master}, which is linked to another contact.",
        "Il a été fusionné dans {master}, qui est lié à un autre contact.",
    ),
    (
        "tomb.explain",
        "Nothing is sent to Salesforce for this contact, so the record a salesperson deleted is not created again. Its data here is kept.",
        "Rien n'est envoyé à Salesforce pour ce contact : l'enregistrement supprimé par un commercial n'est pas recréé. Ses données sont conservées ici.",
    ),
    ("tomb.sync_again", "Sync again", "Synchroniser à nouveau"),
    (
        "tomb.sync_again.hint",
        "After \"Sync again\", the next sync may create a new Lead in Salesforce for the contact (or link it to the record that has its email).",
        "Après « Synchroniser à nouveau », la prochaine synchronisation pourra créer un nouveau Lead dans Salesforce pour le contact (ou le lier à l'enregistrement qui a son email).",
    ),
    (
        "tomb.cleared",
        "This contact will be synced again: the next sync may create a new Lead in Salesforce for it.",
        "Ce contact sera de nouveau synchronisé : la prochaine synchronisation pourra créer un nouveau Lead dans Salesforce pour lui.",
    ),
    (
        "tomb.not_found",
        "This contact was not left out of the sync: there was nothing to clear.",
        "Ce contact n'était pas exclu de la synchronisation : il n'y avait rien à rétablir.",
    ),
    (
        "tomb.cleared_one",
        "Contact {contact} will be synced again: the next sync may create a new Lead in Salesforce for it.",
        "Le contact {contact} sera de nouveau synchronisé : la prochaine synchronisation pourra créer un nouveau Lead dans Salesforce pour lui.",
    ),
    (
        "tomb.not_found_one",
        "Contact {contact} was not left out of the sync: there was nothing to clear.",
        "Le contact {contact} n'était pas exclu de la synchronisation : il n'y avait rien à rétablir.",
    ),
    (
        "tomb.title",
        "Deleted in Salesforce",
        "Supprimés dans Salesforce",
    ),
    (
        "tomb.list_intro",
        "These contacts are not synced because the Salesforce record they were linked to was deleted there. Their data here is kept.",
        "Ces contacts ne sont pas synchronisés car l'enregistrement Salesforce auquel ils étaient liés y a été supprimé. Leurs données sont conservées ici.",
    ),
    (
        "tomb.none",
        "No contact is left out of the sync.",
        "Aucun contact n'est exclu de la synchronisation.",
    ),
    (
        "tomb.org_id",
        "Salesforce record",
        "Enregistrement Salesforce",
    ),
    ("tomb.deleted_at", "Deleted on", "Supprimé le"),
    ("tomb.merged_into", "merged into", "fusionné dans"),
    (
        "tomb.health",
        "Not synced (deleted in Salesforce)",
        "Non synchronisés (supprimés dans Salesforce)",
    ),
    ("tomb.contacts", "contacts", "contacts"),
    ("tomb.contact", "contact", "contact"),
    // Errors.
    (
        "error.title",
        "Something went wrong",
        "Une erreur est survenue",
    ),
    (
        "error.not_found",
        "This page does not exist.",
        "Cette page n'existe pas.",
    ),
    (
        "error.internal",
        "The app could not do this. The details are in its log.",
        "L'application n'a pas pu le faire. Les détails sont dans son journal.",
    ),
    (
        "error.csrf",
        "This form has expired or did not come from this app. Go back, reload the page and try again.",
        "Ce formulaire a expiré ou ne vient pas de cette application. Revenez en arrière, rechargez la page et réessayez.",
    ),
    (
        "error.problems",
        "Please correct the following:",
        "Merci de corriger les points suivants :",
    ),
    // Sign-in and setup.
    ("signin.title", "Sign in", "Connexion"),
    ("signin.username", "Username", "Identifiant"),
    ("signin.password", "Password", "Mot de passe"),
    ("signin.submit", "Sign in", "Se connecter"),
    (
        "signin.failed",
        "Wrong username or password.",
        "Identifiant ou mot de passe incorrect.",
    ),
    (
        "signin.no_admin",
        "No administrator exists yet. Use the setup link printed when the app started, or run `leadbridge admin create`.",
        "Aucun administrateur n'existe encore. Utilisez le lien d'installation affiché au démarrage de l'application, ou lancez `leadbridge admin create`.",
    ),
    (
        "signin.signed_out",
        "You are signed out.",
        "Vous êtes déconnecté.",
    ),
    (
        "setup.title",
        "Create the first administrator",
        "Créer le premier administrateur",
    ),
    (
        "setup.intro",
        "This one-time link creates the first administrator of this app. It stops working once used.",
        "Ce lien à usage unique crée le premier administrateur de l'application. Il ne fonctionne plus une fois utilisé.",
    ),
    (
        "setup.password_rule",
        "At least 10 characters.",
        "Au moins 10 caractères.",
    ),
    (
        "setup.password_again",
        "Password again",
        "Confirmez le mot de passe",
    ),
    (
        "setup.mismatch",
        "The two passwords differ.",
        "Les deux mots de passe sont différents.",
    ),
    (
        "setup.submit",
        "Create administrator",
        "Créer l'administrateur",
    ),
    (
        "setup.expired",
        "This setup link has been used or has expired. Sign in, or run `leadbridge admin create`.",
        "Ce lien d'installation a déjà servi ou a expiré. Connectez-vous, ou lancez `leadbridge admin create`.",
    ),
    // The contact page (`pages/contact.rs`, plezi_url's target).
    ("page.contact.attributes", "Attributes", "Attributs"),
    ("page.contact.lifecycle", "Lifecycle", "Cycle de vie"),
    (
        "page.contact.not_reached",
        "not reached",
        "pas encore atteinte",
    ),
    ("page.contact.history", "History", "Historique"),
    ("page.contact.field", "Field", "Champ"),
    (
        "page.contact.not_found",
        "Contact not found",
        "Contact introuvable",
    ),
    (
        "page.contact.no_such",
        "There is no contact {id}.",
        "Il n'y a pas de contact {id}.",
    ),
    (
        "page.contact.failed",
        "Something went wrong",
        "Une erreur est survenue",
    ),
    (
        "page.contact.failed_body",
        "The error has been logged; try again shortly.",
        "L'erreur a été enregistrée ; réessayez dans un instant.",
    ),
    ("contacts.attribute", "Attribute", "Attribut"),
    ("contacts.company", "Company", "Société"),
    ("contacts.email", "Email", "Email"),
    (
        "contacts.last_synced",
        "Last synced",
        "Dernière synchronisation",
    ),
    (
        "contacts.linked_record",
        "Linked Salesforce record",
        "Fiche Salesforce liée",
    ),
    ("contacts.name", "Name", "Nom"),
    (
        "contacts.no_provenance",
        "No value has been synced yet.",
        "Aucune valeur n'a encore été synchronisée.",
    ),
    (
        "contacts.none",
        "No contact matches.",
        "Aucun contact ne correspond.",
    ),
    (
        "contacts.not_linked",
        "Not linked to a Salesforce record yet.",
        "Pas encore lié à une fiche Salesforce.",
    ),
    ("contacts.object", "Object", "Objet"),
    ("contacts.page", "Contact page", "Fiche du contact"),
    (
        "contacts.provenance",
        "Who set each value",
        "Origine de chaque valeur",
    ),
    ("contacts.rule", "Rule", "Règle"),
    // Why a synced value was written (`lb_core::plan::Rule`).
    (
        "rule.propagated",
        "changed on one side only",
        "modifié d'un seul côté",
    ),
    (
        "rule.conflict_resolved",
        "changed on both sides",
        "modifié des deux côtés",
    ),
    (
        "rule.direction_source",
        "changed on both sides; the mapping's direction decides",
        "modifié des deux côtés ; le sens du mapping décide",
    ),
    (
        "rule.first_sync",
        "first sync of this field",
        "première synchro de ce champ",
    ),
    ("rule.created", "new record", "nouvelle fiche"),
    (
        "rule.required_fallback",
        "default value for a field Salesforce requires",
        "valeur par défaut d'un champ exigé par Salesforce",
    ),
    (
        "rule.duplicate_seed",
        "copied from the first record of its duplicate group",
        "copié de la première fiche de son groupe de doublons",
    ),
    ("contacts.run", "Run", "Synchro"),
    ("contacts.score", "Score", "Score"),
    (
        "contacts.search_hint",
        "Email, name or company",
        "Email, nom ou société",
    ),
    ("contacts.stage", "Stage", "Étape"),
    ("contacts.state", "Status", "Statut"),
    (
        "contacts.sync_status",
        "Sync status",
        "État de synchronisation",
    ),
    ("contacts.updated", "Updated", "Modifié"),
    ("contacts.value", "Value", "Valeur"),
    ("contacts.when", "When", "Quand"),
    ("contacts.written_to", "Written to", "Écrit dans"),
    ("sync.to_crm", "Salesforce", "Salesforce"),
    ("sync.to_marketing", "our contact", "notre contact"),
    ("chart.records", "records synced", "fiches synchronisées"),
    ("chart.requests", "API requests", "requêtes API"),
    (
        "chart.title",
        "Records synced and API requests per run",
        "Fiches synchronisées et requêtes API par synchro",
    ),
    ("forms.create", "Create the form", "Créer le formulaire"),
    ("forms.created", "Created", "Créé"),
    ("forms.inputs", "Inputs → attributes", "Champs → attributs"),
    ("forms.mapping", "Inputs", "Champs"),
    (
        "forms.mapping_help",
        "One line per input: input_name = attribute. One input must map to email.",
        "Une ligne par champ : nom_du_champ = attribut. Un champ doit aller vers email.",
    ),
    ("forms.name", "Name", "Nom"),
    (
        "forms.redirect_url",
        "After sending, go to",
        "Après l'envoi, aller à",
    ),
    (
        "forms.redirect_help",
        "An http(s) address on your site for visitors who post the form without JavaScript; empty: our thank-you page.",
        "Une adresse http(s) de votre site pour les visiteurs qui envoient le formulaire sans JavaScript ; vide : notre page de remerciement.",
    ),
    ("forms.redirect_save", "Save", "Enregistrer"),
    (
        "forms.thanks_page",
        "our thank-you page",
        "notre page de remerciement",
    ),
    (
        "forms.no_submissions",
        "No submission yet.",
        "Aucune soumission pour l'instant.",
    ),
    (
        "forms.none",
        "No form yet.",
        "Aucun formulaire pour l'instant.",
    ),
    (
        "forms.score_help",
        "Points added to behaviour_score by each submission (0 to 50).",
        "Points ajoutés au behaviour_score à chaque soumission (0 à 50).",
    ),
    (
        "forms.score_increment",
        "Score per submission",
        "Score par soumission",
    ),
    ("forms.snippet", "Embeddable HTML", "HTML à intégrer"),
    (
        "forms.snippet_help",
        "Paste this into any web page: it posts to this app, creates or updates the contact by email and starts a sync of that contact.",
        "Collez ceci dans n'importe quelle page web : il envoie à cette application, crée ou met à jour le contact par son email et lance la synchronisation de ce contact.",
    ),
    (
        "forms.submissions",
        "Latest submissions",
        "Dernières soumissions",
    ),
    (
        "health.allowance",
        "Paused: the org's daily API allowance is spent",
        "En pause : le quota d'API quotidien de l'org est épuisé",
    ),
    (
        "health.budget",
        "Paused: this connector's API budget is reached",
        "En pause : le budget d'API de ce connecteur est atteint",
    ),
    (
        "health.enter_new",
        "Enter new credentials in Settings > Salesforce",
        "Saisir de nouveaux identifiants dans Configuration > Salesforce",
    ),
    (
        "health.failing",
        "The last sync failed",
        "La dernière synchronisation a échoué",
    ),
    (
        "health.failing.do",
        "The next run tries again; the run's detail below says what failed.",
        "La prochaine synchro réessaie ; le détail de la synchro ci-dessous indique ce qui a échoué.",
    ),
    (
        "health.healthy",
        "Connected: the sync runs",
        "Connecté : la synchronisation fonctionne",
    ),
    (
        "health.not_connected",
        "Not connected to Salesforce",
        "Non connecté à Salesforce",
    ),
    (
        "health.not_connected.do",
        "Open Configuration > API/CRM configuration > Salesforce, enter the connection details and click \"Update configuration\".",
        "Ouvrez Configuration > Configuration API/CRM > Salesforce, saisissez les informations de connexion et cliquez sur « Mettre à jour la configuration ».",
    ),
    (
        "health.rejected",
        "Credentials rejected: the sync is paused",
        "Identifiants refusés : la synchronisation est en pause",
    ),
    (
        "health.rejected.do",
        "Then enter the new password and security token (or switch to a login flow that does not expire) in Settings > Salesforce and click \"Update configuration\": the sync resumes where it stopped.",
        "Saisissez ensuite le nouveau mot de passe et le nouveau jeton de sécurité (ou passez à un mode de connexion qui n'expire pas) dans Configuration > Salesforce et cliquez sur « Mettre à jour la configuration » : la synchronisation reprend là où elle s'était arrêtée.",
    ),
    (
        "health.rejected.paused",
        "Nothing is lost: pending changes are kept and sent once new credentials are saved; the app does not retry, so the user cannot be locked out.",
        "Rien n'est perdu : les modifications en attente sont conservées et envoyées dès que de nouveaux identifiants sont enregistrés ; l'application ne réessaie pas, l'utilisateur ne peut donc pas être bloqué.",
    ),
    (
        "health.rejected.local",
        "Nothing was sent to Salesforce: the login could not be prepared here for the flow",
        "Rien n'a été envoyé à Salesforce : la connexion n'a pas pu être préparée ici pour le mode",
    ),
    (
        "health.rejected.refused",
        "Salesforce refused the login of the flow",
        "Salesforce a refusé la connexion du mode",
    ),
    (
        "health.retry_after",
        "The sync tries again after",
        "La synchronisation réessaie après",
    ),
    ("health.since", "Since", "Depuis"),
    (
        "health.what_happened",
        "What happened:",
        "Ce qui s'est passé :",
    ),
    ("health.what_to_do", "What to do:", "Que faire :"),
    // The public pages after a plain HTML form post (pages::thanks).
    ("thanks.title", "Thank you", "Merci"),
    (
        "thanks.body",
        "Your answer has been received.",
        "Votre réponse a bien été reçue.",
    ),
    (
        "refused.title",
        "The form could not be sent",
        "Le formulaire n'a pas pu être envoyé",
    ),
    (
        "refused.intro",
        "Please correct these fields and send the form again:",
        "Merci de corriger ces champs et de renvoyer le formulaire :",
    ),
    (
        "refused.not_found",
        "This form does not exist (any more).",
        "Ce formulaire n'existe pas (ou plus).",
    ),
    (
        "refused.too_large",
        "The form is too large to be sent.",
        "Le formulaire est trop volumineux pour être envoyé.",
    ),
    (
        "refused.unsupported",
        "This form sends its data in a format that is not accepted.",
        "Ce formulaire envoie ses données dans un format qui n'est pas accepté.",
    ),
    (
        "refused.unavailable",
        "The service is busy: please try again in a moment.",
        "Le service est occupé : merci de réessayer dans un instant.",
    ),
    ("refused.back", "Back to the form", "Retour au formulaire"),
    (
        "refused.back_button",
        "Use your browser's Back button to return to the form.",
        "Utilisez le bouton Retour de votre navigateur pour revenir au formulaire.",
    ),
    (
        "map.add",
        "Add an attribute (it goes last)",
        "Ajouter un attribut (il se place en dernier)",
    ),
    (
        "map.add_help",
        "The new attribute is mapped to a Lead field, both ways (score and status: to Salesforce only).",
        "Le nouvel attribut est relié à un champ de la piste, dans les deux sens (score et statut : vers Salesforce uniquement).",
    ),
    ("map.attribute", "Our attribute", "Notre attribut"),
    ("map.conflict", "If both changed", "Si les deux ont changé"),
    ("map.direction", "Direction", "Sens"),
    (
        "map.error.add_field",
        "choose the org field to map it to",
        "choisissez le champ de l'org auquel le relier",
    ),
    (
        "map.error.direction",
        "this direction is not allowed for this attribute",
        "ce sens n'est pas autorisé pour cet attribut",
    ),
    (
        "map.intro",
        "Mandatory attributes are shown locked. Score and status only go to Salesforce; nothing is ever written to a Salesforce Contact. Warnings do not block saving; errors do.",
        "Les attributs obligatoires sont affichés verrouillés. Le score et le statut vont uniquement vers Salesforce ; rien n'est jamais écrit dans un Contact Salesforce. Les avertissements n'empêchent pas l'enregistrement ; les erreurs, si.",
    ),
    ("map.locked", "mandatory", "obligatoire"),
    (
        "map.not_connected",
        "Not connected: the org's fields cannot be offered. Connect in Settings > Salesforce first.",
        "Non connecté : les champs de l'org ne peuvent pas être proposés. Connectez-vous d'abord dans Configuration > Salesforce.",
    ),
    (
        "map.not_saved",
        "The mapping was not saved:",
        "Le mapping n'a pas été enregistré :",
    ),
    ("map.org_field", "Salesforce field", "Champ Salesforce"),
    ("map.save", "Save the mapping", "Enregistrer le mapping"),
    (
        "map.saved",
        "The mapping is saved.",
        "Le mapping est enregistré.",
    ),
    (
        "map.saved_schema",
        "The org's fields come from the last successful connection (the connection is not usable right now).",
        "Les champs de l'org proviennent de la dernière connexion réussie (la connexion n'est pas utilisable pour l'instant).",
    ),
    (
        "map.title",
        "Mapping of contact attributes",
        "Mapping des attributs de contact",
    ),
    (
        "map.value_map",
        "Value map (ours = org's)",
        "Correspondance des valeurs (nôtre = org)",
    ),
    (
        "map.dir.to_crm",
        "marketing → Salesforce",
        "marketing → Salesforce",
    ),
    (
        "map.dir.to_marketing",
        "Salesforce → marketing",
        "Salesforce → marketing",
    ),
    ("map.dir.both", "both ways", "dans les deux sens"),
    ("map.dir.off", "off", "désactivé"),
    (
        "map.conflict.most_recent",
        "most recent wins",
        "le plus récent gagne",
    ),
    (
        "map.conflict.crm_wins",
        "Salesforce wins",
        "Salesforce gagne",
    ),
    (
        "map.conflict.marketing_wins",
        "marketing wins",
        "le marketing gagne",
    ),
    ("preview.changes", "Changes", "Modifications"),
    ("preview.conflict", "Conflict:", "Conflit :"),
    (
        "preview.conflicts",
        "Conflicts resolved",
        "Conflits résolus",
    ),
    (
        "preview.create_lead",
        "Create a Lead in Salesforce",
        "Créer une piste dans Salesforce",
    ),
    (
        "preview.create_ours_from_contact",
        "Create our contact from a Salesforce Contact",
        "Créer notre contact depuis un Contact Salesforce",
    ),
    (
        "preview.create_ours_from_lead",
        "Create our contact from a Salesforce Lead",
        "Créer notre contact depuis une piste Salesforce",
    ),
    (
        "preview.crm_creates",
        "Leads to create in Salesforce",
        "Pistes à créer dans Salesforce",
    ),
    (
        "preview.crm_updates",
        "Leads to update in Salesforce",
        "Pistes à mettre à jour dans Salesforce",
    ),
    (
        "preview.duplicate_groups",
        "Duplicate groups in the org",
        "Groupes de doublons dans l'org",
    ),
    (
        "preview.duplicates",
        "Duplicate groups (same email on several org records)",
        "Groupes de doublons (même email sur plusieurs fiches de l'org)",
    ),
    ("preview.held", "Not sent:", "Non envoyé :"),
    (
        "preview.intro",
        "What the next sync would do. Nothing has been written on either side.",
        "Ce que ferait la prochaine synchronisation. Rien n'a été écrit d'un côté ni de l'autre.",
    ),
    ("preview.kept", "Synced record", "Fiche synchronisée"),
    (
        "preview.link",
        "Link existing records (same email)",
        "Relier des fiches existantes (même email)",
    ),
    (
        "preview.links_matched",
        "Records matched by email",
        "Fiches reliées par email",
    ),
    (
        "preview.marketing_creates",
        "Contacts to create here",
        "Contacts à créer ici",
    ),
    (
        "preview.marketing_updates",
        "Contacts to update here",
        "Contacts à mettre à jour ici",
    ),
    ("preview.members", "Records", "Fiches"),
    (
        "preview.more",
        "more changes not shown",
        "autres modifications non affichées",
    ),
    (
        "preview.nothing",
        "Nothing to do: both sides agree.",
        "Rien à faire : les deux côtés sont à jour.",
    ),
    ("preview.our_contact", "Our contact", "Notre contact"),
    ("preview.ours", "ours", "chez nous"),
    ("preview.reason", "Reason", "Raison"),
    ("preview.skipped", "Records skipped", "Fiches ignorées"),
    (
        "preview.skips",
        "Records skipped, with the reason",
        "Fiches ignorées, avec la raison",
    ),
    (
        "preview.title",
        "Preview of the next sync",
        "Aperçu de la prochaine synchronisation",
    ),
    (
        "preview.update_lead",
        "Update the Lead in Salesforce",
        "Mettre à jour la piste dans Salesforce",
    ),
    (
        "preview.update_ours",
        "Update our contact",
        "Mettre à jour notre contact",
    ),
    ("run.api_requests", "API requests", "Requêtes API"),
    ("run.conflicts", "Conflicts", "Conflits"),
    (
        "run.duplicate_groups",
        "Duplicate groups",
        "Groupes de doublons",
    ),
    ("run.error_code", "Error code", "Code d'erreur"),
    (
        "run.error_message",
        "Salesforce's message",
        "Message de Salesforce",
    ),
    ("run.failed", "Failed", "En échec"),
    ("run.failures", "Failures", "Échecs"),
    ("run.fields", "Fields", "Champs"),
    ("run.finished", "Finished", "Terminée"),
    (
        "run.links_followed",
        "Converted Leads followed",
        "Pistes converties suivies",
    ),
    (
        "run.links_matched",
        "Records matched by email",
        "Fiches reliées par email",
    ),
    ("run.message", "Message", "Message"),
    (
        "run.no_failures",
        "No failure in this run.",
        "Aucun échec dans cette synchro.",
    ),
    (
        "run.org_created",
        "Created in Salesforce",
        "Créées dans Salesforce",
    ),
    (
        "run.org_updated",
        "Updated in Salesforce",
        "Mises à jour dans Salesforce",
    ),
    ("run.ours_created", "Created here", "Créés ici"),
    ("run.ours_updated", "Updated here", "Mis à jour ici"),
    ("run.paused", "paused", "en pause"),
    ("run.read_contacts", "Our contacts read", "Nos contacts lus"),
    (
        "run.read_org_contacts",
        "Salesforce Contacts read",
        "Contacts Salesforce lus",
    ),
    (
        "run.read_org_leads",
        "Salesforce Leads read",
        "Pistes Salesforce lues",
    ),
    (
        "run.duplicate_rule",
        "The record linked is chosen in this order: the one already linked, then Contacts before Leads, then the oldest (CreatedDate), then the smallest Id.",
        "La fiche reliée est choisie dans cet ordre : celle déjà reliée, puis les Contacts avant les Pistes, puis la plus ancienne (CreatedDate), puis le plus petit Id.",
    ),
    ("run.linked", "linked", "reliée"),
    (
        "run.listed_first",
        "Listed here (the first ones):",
        "Listés ici (les premiers) :",
    ),
    (
        "run.not_recorded",
        "This run did not record them one by one (it predates that).",
        "Cette exécution ne les a pas enregistrés un par un (elle est antérieure à cette fonction).",
    ),
    // A run's org deletes (issue 6): `counts.deletes`, see `sync::deletes_view`.
    (
        "run.deletes",
        "Deleted or merged in Salesforce",
        "Supprimées ou fusionnées dans Salesforce",
    ),
    (
        "run.deletes.read.one",
        "{n} record deleted or merged away in Salesforce",
        "{n} fiche supprimée ou fusionnée dans Salesforce",
    ),
    (
        "run.deletes.read.other",
        "{n} records deleted or merged away in Salesforce",
        "{n} fiches supprimées ou fusionnées dans Salesforce",
    ),
    ("run.deletes.colon", ": ", " : "),
    (
        "run.deletes.tombstoned.one",
        "{n} contact no longer synced (its Salesforce record was deleted)",
        "{n} contact n'est plus synchronisé (sa fiche Salesforce a été supprimée)",
    ),
    (
        "run.deletes.tombstoned.other",
        "{n} contacts no longer synced (their Salesforce record was deleted)",
        "{n} contacts ne sont plus synchronisés (leur fiche Salesforce a été supprimée)",
    ),
    (
        "run.deletes.relinked.one",
        "{n} contact relinked to the record it was merged into",
        "{n} contact relié à la fiche qui a absorbé la sienne",
    ),
    (
        "run.deletes.relinked.other",
        "{n} contacts relinked to the record theirs was merged into",
        "{n} contacts reliés à la fiche qui a absorbé la leur",
    ),
    (
        "run.deletes.duplicates.one",
        "{n} contact no longer synced (its record was merged into one linked to another contact)",
        "{n} contact n'est plus synchronisé (sa fiche a été fusionnée dans une fiche liée à un autre contact)",
    ),
    (
        "run.deletes.duplicates.other",
        "{n} contacts no longer synced (their record was merged into one linked to another contact)",
        "{n} contacts ne sont plus synchronisés (leur fiche a été fusionnée dans une fiche liée à un autre contact)",
    ),
    (
        "run.deletes.unlinked.one",
        "{n} not linked to any contact (nothing to do)",
        "{n} n'était liée à aucun contact (rien à faire)",
    ),
    (
        "run.deletes.unlinked.other",
        "{n} not linked to any contact (nothing to do)",
        "{n} n'étaient liées à aucun contact (rien à faire)",
    ),
    (
        "run.deletes.stale.one",
        "{n} left alone (its link changed during the run)",
        "{n} laissée telle quelle (son lien a changé pendant la synchro)",
    ),
    (
        "run.deletes.stale.other",
        "{n} left alone (their link changed during the run)",
        "{n} laissées telles quelles (leur lien a changé pendant la synchro)",
    ),
    (
        "run.deletes.outcome.tombstoned",
        "deleted: no longer synced",
        "supprimée : n'est plus synchronisé",
    ),
    (
        "run.deletes.outcome.relinked",
        "merged: now linked to the winner",
        "fusionnée : relié à la fiche gagnante",
    ),
    (
        "run.deletes.outcome.duplicate",
        "merged into a record linked to another contact: no longer synced",
        "fusionnée dans une fiche liée à un autre contact : n'est plus synchronisé",
    ),
    (
        "run.deletes.org_id",
        "Salesforce record (deleted)",
        "Fiche Salesforce (supprimée)",
    ),
    ("run.deletes.what", "What happened", "Ce qui s'est passé"),
    ("run.deletes.master", "Merged into", "Fusionnée dans"),
    ("run.deletes.other", "linked to contact", "liée au contact"),
    ("run.record", "Record", "Fiche"),
    ("run.running", "running", "en cours"),
    (
        "run.seed_updates",
        "Duplicates updated with the first record's data",
        "Doublons mis à jour avec les données de la première fiche",
    ),
    ("run.side", "Side", "Côté"),
    ("run.skipped", "Skipped", "Ignorées"),
    ("run.started", "Started", "Début"),
    ("run.status", "Status", "État"),
    ("run.succeeded", "succeeded", "réussie"),
    ("run.title", "Sync run", "Synchro"),
    ("run.trigger", "Trigger", "Déclencheur"),
    ("trigger.manual", "by hand", "manuelle"),
    ("trigger.schedule", "scheduled", "planifiée"),
    (
        "trigger.form_submission",
        "form submission",
        "soumission de formulaire",
    ),
    (
        "trigger.credentials_saved",
        "new credentials",
        "nouveaux identifiants",
    ),
    ("trigger.startup", "start-up", "démarrage"),
    ("scope.incremental", "incremental", "incrémentale"),
    ("scope.full", "full", "complète"),
    ("scope.contacts", "those contacts", "ces contacts"),
    ("sf.api", "REST API", "API REST"),
    ("sf.api_available", "available", "disponible"),
    (
        "sf.api_requests",
        "API requests used",
        "Requêtes API utilisées",
    ),
    (
        "sf.api_unavailable",
        "not available in this edition",
        "non disponible dans cette édition",
    ),
    ("sf.api_version", "API version", "Version de l'API"),
    (
        "sf.callback",
        "Callback URL to register in the connected app:",
        "URL de rappel à déclarer dans l'application connectée :",
    ),
    ("sf.client_id", "Consumer key", "Clé consommateur"),
    ("sf.client_secret", "Consumer secret", "Secret consommateur"),
    ("sf.configuration", "Connection", "Connexion"),
    (
        "sf.connected",
        "Connected: the credentials work and every required field exists.",
        "Connecté : les identifiants fonctionnent et tous les champs obligatoires existent.",
    ),
    ("sf.connected_app", "Connected app", "Application connectée"),
    (
        "sf.connected_with_problems",
        "Signed in to the org, but something must be fixed before the sync can run:",
        "Connecté à l'org, mais un point doit être corrigé avant que la synchronisation puisse fonctionner :",
    ),
    (
        "sf.create_fields",
        "Create missing fields",
        "Créer les champs manquants",
    ),
    (
        "sf.create_fields_help",
        "Creates them in the org through the Tooling API and gives the integration user access to them.",
        "Les crée dans l'org via la Tooling API et en donne l'accès à l'utilisateur d'intégration.",
    ),
    ("sf.edition", "Edition", "Édition"),
    (
        "sf.error.client_id",
        "The consumer key is required.",
        "La clé consommateur est obligatoire.",
    ),
    (
        "sf.error.client_secret",
        "The consumer secret is required for this flow.",
        "Le secret consommateur est obligatoire pour ce mode.",
    ),
    (
        "sf.error.login_url",
        "The login URL is not a valid URL.",
        "L'URL de connexion n'est pas valide.",
    ),
    (
        "sf.error.not_connected",
        "Save a working connection first.",
        "Enregistrez d'abord une connexion qui fonctionne.",
    ),
    (
        "sf.error.oauth_state",
        "This sign-in answer does not belong to a sign-in started here in the last 10 minutes. Start again with \"Update configuration\".",
        "Cette réponse de connexion ne correspond à aucune connexion lancée ici dans les 10 dernières minutes. Recommencez avec « Mettre à jour la configuration ».",
    ),
    (
        "sf.error.password",
        "The password is required for this flow.",
        "Le mot de passe est obligatoire pour ce mode.",
    ),
    (
        "sf.error.private_key",
        "The private key is required for the JWT flow.",
        "La clé privée est obligatoire pour le mode JWT.",
    ),
    (
        "sf.error.username",
        "The username is required for this flow.",
        "L'identifiant est obligatoire pour ce mode.",
    ),
    ("sf.field", "Field", "Champ"),
    ("sf.field.created", "created", "créé"),
    ("sf.field.missing", "missing", "manquant"),
    ("sf.field.present", "present", "présent"),
    ("sf.field.wrong_type", "wrong type", "mauvais type"),
    (
        "sf.fields",
        "Fields required in Salesforce",
        "Champs nécessaires dans Salesforce",
    ),
    ("sf.flow", "Login flow", "Mode de connexion"),
    (
        "sf.flow.web_oauth",
        "Connect with Salesforce (recommended)",
        "Se connecter avec Salesforce (recommandé)",
    ),
    (
        "sf.flow.web_oauth.help",
        "you sign in on Salesforce's page; the refresh token it gives does not expire with the password.",
        "vous vous connectez sur la page de Salesforce ; le jeton de rafraîchissement obtenu n'expire pas avec le mot de passe.",
    ),
    (
        "sf.flow.client_credentials",
        "Client credentials",
        "Identifiants client (client credentials)",
    ),
    (
        "sf.flow.client_credentials.help",
        "consumer key and secret of a connected app with a run-as user; needs the org's My Domain login URL.",
        "clé et secret d'une application connectée avec un utilisateur d'exécution ; nécessite l'URL My Domain de l'org.",
    ),
    ("sf.flow.jwt", "JWT bearer", "JWT bearer"),
    (
        "sf.flow.jwt.help",
        "consumer key, integration username and the private key whose certificate is uploaded to the connected app.",
        "clé consommateur, identifiant de l'utilisateur d'intégration et clé privée dont le certificat est chargé dans l'application connectée.",
    ),
    (
        "sf.flow.password",
        "Username, password and security token (legacy)",
        "Identifiant, mot de passe et jeton de sécurité (ancien mode)",
    ),
    (
        "sf.flow.password.help",
        "the seed's flow: consumer key and secret, the integration user's username, password and security token.",
        "le mode historique : clé et secret consommateur, identifiant, mot de passe et jeton de sécurité de l'utilisateur d'intégration.",
    ),
    ("sf.instance_url", "Instance URL", "URL de l'instance"),
    (
        "sf.instance_url_help",
        "Optional: the org says where it lives when you sign in.",
        "Facultatif : l'org indique son adresse à la connexion.",
    ),
    (
        "sf.integration_user",
        "Integration user",
        "Utilisateur d'intégration",
    ),
    (
        "sf.keep_secret",
        "— leave empty to keep it.",
        "— laissez vide pour le conserver.",
    ),
    ("sf.login_url", "Login URL", "URL de connexion"),
    (
        "sf.login_url_help",
        "https://login.salesforce.com, https://test.salesforce.com for a sandbox, or your My Domain URL.",
        "https://login.salesforce.com, https://test.salesforce.com pour une sandbox, ou votre URL My Domain.",
    ),
    (
        "sf.mapping_problems",
        "The mapping against this org",
        "Le mapping face à cette org",
    ),
    (
        "sf.next_mapping",
        "Next: the mapping of contact attributes",
        "Ensuite : le mapping des attributs de contact",
    ),
    (
        "sf.not_saved",
        "These credentials were not saved: the previous ones stay in use.",
        "Ces identifiants n'ont pas été enregistrés : les précédents restent utilisés.",
    ),
    (
        "sf.notice.fields_created",
        "The missing fields were created (see below).",
        "Les champs manquants ont été créés (voir ci-dessous).",
    ),
    (
        "sf.notice.oauth_done",
        "Back from Salesforce's sign-in page.",
        "Retour de la page de connexion de Salesforce.",
    ),
    ("sf.optional", "optional", "facultatif"),
    ("sf.org", "The org", "L'org"),
    (
        "sf.org_answer",
        "What the check found:",
        "Résultat de la vérification :",
    ),
    ("sf.org_name", "Name", "Nom"),
    ("sf.password", "Password", "Mot de passe"),
    (
        "sf.password_help",
        "Username-password flow only.",
        "Mode identifiant/mot de passe uniquement.",
    ),
    (
        "sf.password_notice",
        "About the legacy flow: Salesforce blocks the username-password flow by default in orgs created since Summer '23 and retires it for connected apps on 2027-02-20. The org also forces a new password about every 3 months, which resets the security token and stops the sync until both are entered here again. Prefer \"Connect with Salesforce\", client credentials or JWT.",
        "À propos de l'ancien mode : Salesforce bloque par défaut le mode identifiant/mot de passe dans les orgs créées depuis Summer '23 et le retire pour les applications connectées le 20/02/2027. L'org impose aussi un nouveau mot de passe environ tous les 3 mois, ce qui réinitialise le jeton de sécurité et arrête la synchronisation jusqu'à ce que les deux soient ressaisis ici. Préférez « Se connecter avec Salesforce », client credentials ou JWT.",
    ),
    ("sf.private_key", "Private key (PEM)", "Clé privée (PEM)"),
    (
        "sf.private_key_help",
        "JWT flow only.",
        "Mode JWT uniquement.",
    ),
    (
        "sf.refused",
        "Not connected: Salesforce refused.",
        "Non connecté : Salesforce a refusé.",
    ),
    ("sf.required", "Required", "Obligatoire"),
    (
        "sf.result",
        "Result of \"Update configuration\"",
        "Résultat de « Mettre à jour la configuration »",
    ),
    (
        "sf.saved_at",
        "Credentials saved",
        "Identifiants enregistrés",
    ),
    (
        "sf.secret_set",
        "set — leave empty to keep",
        "renseigné — laisser vide pour conserver",
    ),
    ("sf.security_token", "Security token", "Jeton de sécurité"),
    ("sf.status", "Status", "État"),
    (
        "sf.token_help",
        "Sent after the password. Reset it from the user's settings in Salesforce.",
        "Envoyé après le mot de passe. Réinitialisez-le depuis les paramètres de l'utilisateur dans Salesforce.",
    ),
    (
        "sf.update",
        "Update configuration",
        "Mettre à jour la configuration",
    ),
    ("sf.username", "Username", "Identifiant"),
    (
        "sf.username_help",
        "Username-password and JWT flows.",
        "Modes identifiant/mot de passe et JWT.",
    ),
    (
        "sf.what_to_do",
        "What to do, most likely cause first:",
        "Que faire, cause la plus probable en premier :",
    ),
    ("sync.backlog", "Waiting to be sent", "En attente d'envoi"),
    (
        "sync.backlog_contact",
        "contact changed since the last complete run",
        "contact modifié depuis la dernière synchro complète",
    ),
    (
        "sync.backlog_contacts",
        "contacts changed since the last complete run",
        "contacts modifiés depuis la dernière synchro complète",
    ),
    ("sync.every", "every", "toutes les"),
    (
        "sync.full_resync",
        "Run a full resync",
        "Lancer une resynchronisation complète",
    ),
    ("sync.history", "History", "Historique"),
    ("sync.next_run", "next run", "prochaine synchro"),
    (
        "sync.no_runs",
        "No sync has run yet.",
        "Aucune synchronisation n'a encore eu lieu.",
    ),
    (
        "sync.notice.busy",
        "A sync is already running; this page follows it.",
        "Une synchronisation est déjà en cours ; cette page la suit.",
    ),
    (
        "sync.notice.not_connected",
        "Connect to Salesforce first (Settings > Salesforce).",
        "Connectez-vous d'abord à Salesforce (Configuration > Salesforce).",
    ),
    (
        "sync.notice.started",
        "The sync has started; this page refreshes until it ends.",
        "La synchronisation a démarré ; cette page se rafraîchit jusqu'à la fin.",
    ),
    ("sync.now", "Sync now", "Synchroniser maintenant"),
    (
        "sync.pending_creates",
        "Lead creations to confirm",
        "créations de pistes à confirmer",
    ),
    ("sync.preview", "Preview", "Aperçu"),
    (
        "sync.resync_due",
        "The mapping changed since the last full sync: a full resync is due so that every record follows the new mapping.",
        "Le mapping a changé depuis la dernière synchronisation complète : une resynchronisation complète est nécessaire pour que toutes les fiches suivent le nouveau mapping.",
    ),
    (
        "sync.running",
        "A sync is running…",
        "Une synchronisation est en cours…",
    ),
    ("sync.schedule", "Schedule", "Planification"),
    (
        "health.fields_missing",
        "Connected, but required fields are missing in Salesforce",
        "Connecté, mais des champs obligatoires manquent dans Salesforce",
    ),
    (
        "health.fields_missing.do",
        "Click \"Create missing fields\" in Settings > Salesforce (or create them in Setup): the sync needs them.",
        "Cliquez sur « Créer les champs manquants » dans Configuration > Salesforce (ou créez-les dans Setup) : la synchronisation en a besoin.",
    ),
    ("map.error", "Error:", "Erreur :"),
    ("map.warning", "Warning:", "Avertissement :"),
    (
        "map.value_map_hint",
        "our value = org value",
        "notre valeur = valeur de l'org",
    ),
    ("contacts.fields", "Fields", "Champs"),
    (
        "contacts.history",
        "Latest changes, with their origin",
        "Dernières modifications, avec leur origine",
    ),
    ("contacts.origin", "Origin", "Origine"),
    ("origin.user", "a user", "un utilisateur"),
    (
        "origin.form",
        "a form submission",
        "une soumission de formulaire",
    ),
    ("origin.api", "the API", "l'API"),
    ("origin.import", "an import", "un import"),
    (
        "origin.sync",
        "the Salesforce sync",
        "la synchronisation Salesforce",
    ),
    (
        "alert.rejected",
        "Salesforce refused the credentials: the sync is paused. See what to do",
        "Salesforce a refusé les identifiants : la synchronisation est en pause. Voir que faire",
    ),
    (
        "alert.paused",
        "The sync is paused (API allowance or budget). See details",
        "La synchronisation est en pause (quota ou budget d'API). Voir le détail",
    ),
    (
        "alert.failing",
        "The last sync failed. See details",
        "La dernière synchronisation a échoué. Voir le détail",
    ),
    (
        "signin.throttled",
        "Too many failed sign-ins for this username: try again in 15 minutes.",
        "Trop d'échecs de connexion pour cet identifiant : réessayez dans 15 minutes.",
    ),
    (
        "sf.no_api_edition",
        "This org's Salesforce edition does not give access to the API, so the connector cannot work with it. The API comes with Enterprise, Unlimited, Performance and Developer editions; Contact Manager, Group and Professional editions do not have it (Professional only with the API add-on). Ask Salesforce to upgrade the edition or add the API.",
        "L'édition Salesforce de cette org ne donne pas accès à l'API : le connecteur ne peut pas fonctionner avec elle. L'API est incluse dans les éditions Enterprise, Unlimited, Performance et Developer ; les éditions Contact Manager, Group et Professional ne l'ont pas (Professional seulement avec l'option API). Demandez à Salesforce de passer à une autre édition ou d'ajouter l'API.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_no_duplicate_or_empty_entry() {
        let mut seen = std::collections::HashSet::new();
        for (key, en, fr) in ENTRIES {
            assert!(seen.insert(key), "duplicate key {key}");
            assert!(
                !en.is_empty() && !fr.is_empty(),
                "empty translation for {key}"
            );
        }
    }

    #[test]
    fn every_key_used_by_a_template_or_the_code_exists() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ui");
        let mut missing = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for pattern in [".t(\""] {
                    for (i, _) in text.match_indices(pattern) {
                        let rest = &text[i + pattern.len()..];
                        let key = &rest[..rest.find('"').unwrap()];
                        if key.contains('.') && !CATALOGUE.contains_key(key) {
                            missing.push(format!("{}: {key}", path.display()));
                        }
                    }
                }
            }
        }
        assert_eq!(missing, Vec::<String>::new());
    }

    #[test]
    fn keys_built_at_run_time_exist() {
        let mut keys = Vec::new();
        for flow in ["web_oauth", "client_credentials", "jwt", "password"] {
            keys.push(format!("sf.flow.{flow}"));
            keys.push(format!("sf.flow.{flow}.help"));
        }
        for d in ["to_crm", "to_marketing", "both", "off"] {
            keys.push(format!("map.dir.{d}"));
        }
        for c in ["most_recent", "crm_wins", "marketing_wins"] {
            keys.push(format!("map.conflict.{c}"));
        }
        for t in [
            "manual",
            "schedule",
            "form_submission",
            "credentials_saved",
            "startup",
        ] {
            keys.push(format!("trigger.{t}"));
        }
        for s in ["incremental", "full", "contacts"] {
            keys.push(format!("scope.{s}"));
        }
        for a in ["rejected", "paused", "failing"] {
            keys.push(format!("alert.{a}"));
        }
        for o in ["user", "form", "api", "import", "sync"] {
            keys.push(format!("origin.{o}"));
        }
        for c in [
            "read",
            "tombstoned",
            "relinked",
            "duplicates",
            "unlinked",
            "stale",
        ] {
            for form in ["one", "other"] {
                keys.push(format!("run.deletes.{c}.{form}"));
            }
        }
        let missing: Vec<_> = keys
            .iter()
            .filter(|k| !CATALOGUE.contains_key(k.as_str()))
            .collect();
        assert!(missing.is_empty(), "{missing:?}");
    }

    #[test]
    fn accept_language_picks_the_heaviest_language_we_speak() {
        let mut h = HeaderMap::new();
        h.insert(
            "accept-language",
            "de-DE,fr-FR;q=0.8,en;q=0.5".parse().unwrap(),
        );
        assert_eq!(Lang::negotiate(&h), Lang::Fr);
        h.insert("accept-language", "en-GB;q=0.9,fr;q=0.95".parse().unwrap());
        assert_eq!(Lang::negotiate(&h), Lang::Fr);
        h.insert("accept-language", "es".parse().unwrap());
        assert_eq!(Lang::negotiate(&h), Lang::En);
    }

    #[test]
    fn language_cookie_wins_over_the_browser() {
        let mut h = HeaderMap::new();
        h.insert("accept-language", "fr-FR".parse().unwrap());
        h.insert("cookie", "a=b; lb_lang=en".parse().unwrap());
        assert_eq!(Lang::negotiate(&h), Lang::En);
    }
}
