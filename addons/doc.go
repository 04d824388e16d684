// Package addons provisions add-ons (databases, caches, any attached
// resource) for apps and keeps the apps' config vars in step with them.
//
// Vocabulary (heroku.md §8):
//
//   - A Provider makes and removes resources. Provision returns a
//     Resource whose config vars carry the service's config prefix
//     (DATABASE_URL); it is idempotent on ProvisionRequest.ID, so a
//     retried request never makes a second resource. Optional
//     capabilities are extra interfaces found by type assertion:
//     PlanChanger, Backuper, Resetter, CredentialRotator,
//     ConnectionResetter, Forker, PlanLister, Configurer (settings users
//     may change, heroku pg:settings), Describer, whose Facts (rows
//     of a name and values, such as "Connections" ["3/20"]) answer
//     heroku pg:info and redis:info, and Diagnoser, whose Checks (green,
//     yellow or red, with what they found) answer heroku pg:diagnose.
//   - A Catalog lists Services (a provider, a config prefix and Plans with
//     per-plan Limits). It is a value the platform builds; there is no
//     global registry.
//   - An AddOn is one provisioned resource, billed to one app. An
//     Attachment exposes it to an app under a name: the attachment name
//     replaces the service prefix in every config var, so one add-on
//     attached as DATABASE and as ANALYTICS_DB gives DATABASE_URL and
//     ANALYTICS_DB_URL (§8.2). An attachment name is used once per app.
//     CreateRequest.Also attaches a new add-on under more names in the
//     same step (Heroku's first database is DATABASE and
//     HEROKU_POSTGRESQL_<COLOR>); changes to an add-on's attachments on
//     one app are one config change ("Detach DATABASE,
//     HEROKU_POSTGRESQL_JADE").
//   - A LogDrainer (optional) is the platform's log router: an add-on
//     whose provider returns a LogDrainURL gets its billing app's logs
//     drained there while it exists.
//   - A ConfigApplier is the platform's side: it sets and unsets an app's
//     config vars in one step; on dynokit's release package that is one
//     new release described "Attach DATABASE" or "Detach DATABASE".
//     addons does not import release (packages along the pipeline do not
//     import each other); the platform implements ConfigApplier.
//
// Lifecycle. Manager.Create looks the plan up, reserves the names,
// provisions (bounded by Manager.Timeout), validates the returned config
// var names (§9.7 rules, the service prefix, no clash with another
// attachment's vars on the app) and applies them. There is no half
// state: when the provider fails or times out, the app's config is
// untouched; when validation or applying fails after provisioning, the
// resource is deprovisioned again and both errors are reported
// (go-multierror). Fork is Create through a Forker, copying an existing
// add-on's data. Attach and Detach add and remove attachments;
// Reattach moves an app's attachment name from one add-on to another of
// the same service in one config change (heroku pg:promote);
// ChangePlan asks a PlanChanger and pushes changed config vars to every
// attached app (changing the plan back if an app refuses); UpdateConfig
// pushes vars the provider changed later (rotated credentials);
// Destroy unsets the vars on every app, then deprovisions, and puts the
// vars back if the provider fails. Each add-on runs one operation at a
// time (others get ErrBusy); Describe and Backup only read, so they
// neither wait for that operation nor get ErrBusy, while Restore (through
// a Backuper: replace the data with a backup's), Reset (through a
// Resetter: empty it) and RotateCredentials (through a
// CredentialRotator: new credentials pushed to every attached app, or
// the old ones put back) are such operations. RenameApp follows an app's
// rename (heroku apps:rename): its add-ons and attachments move to the new
// name in one step, after any operation in flight on the app ends,
// without calling a provider or changing config vars (they belong to the
// app). RenameAddOn renames an add-on (heroku addons:rename); its
// resource, attachments and config vars stay as they are. A provider
// that is a CredentialManager gives its resources named credentials
// (heroku pg:credentials:create): logins of their own, which a platform
// reaches through the add-on's Service and resource id (ResourceID);
// Credential reads one.
// AttachCredential attaches one to an app (heroku addons:attach
// --credential): <as>_URL holds that credential's URL, which the Manager's
// RotateCredential keeps current and the add-on's own config changes leave
// alone; its DestroyCredential refuses a credential still attached.
// RepairDefaultCredential (a DefaultCredentialRepairer) gives the default
// credential back what the named ones own (heroku
// pg:credentials:repair-default). AttachPooled attaches an add-on through
// its provider's connection pooler (a Pooler; heroku
// pg:connection-pooling:attach): <as>_URL is the add-on's URL through the
// pooler, and the add-on's config changes keep it current.
//
// Reference providers live in sub-packages: postgres (a role and a
// database per add-on on a real PostgreSQL server) and redis (an ACL user
// confined to a key prefix on a real Redis server). Package partner
// speaks the Heroku add-on partner API v3 in both directions, and
// addonstest holds the conformance suite and in-memory implementations.
//
// Deviation from design.md: the Manager keeps its state (add-ons,
// attachments, idempotency keys) in memory. A persistent store behind an
// interface is left for later (idempotency keys are kept for the
// Manager's lifetime); a restarted Manager forgets its add-ons
// while the providers keep the resources (providers persist their own
// state, so re-provisioning with the same request id finds them).
// Secrets: Config prints names only; errors and logs never carry values.
package addons
