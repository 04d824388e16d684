// Package postgres is an add-on provider that gives each add-on its own
// role and database on a PostgreSQL server (13 or newer, for DROP
// DATABASE … WITH (FORCE)), reached through DATABASE_URL.
//
// Provision creates, for a request id, a role and a database of the same
// name (ResourceID: "pg" + 24 hex digits derived from the request id, so
// retries converge), the role owning the database, with a 32-byte random
// password (crypto/rand) and the plan's connection limit on both role
// and database. CONNECT is revoked from PUBLIC on the database, so no
// other add-on's role can connect to it. The password is sent to the
// server as a SCRAM-SHA-256 verifier computed here, never in clear text,
// so it cannot appear in the server's statement log. The provider keeps
// each resource's plan and password in schema dynokit_addons of the
// admin database, which add-on roles cannot read. Every step checks
// before acting and runs under a per-resource advisory lock, so retried
// or concurrent provisions with one request id make one resource.
//
// Deprovision drops the database (closing its connections) and the role
// and forgets the password; unknown ids give addons.ErrNotFound.
// ChangePlan changes the connection limits in place.
//
// Each database also records, in its settings rds.allowed_extensions and
// extwlist.extensions, the extensions its role may create (heroku
// pg:extensions reads them), and gets pg_stat_statements, created by the
// admin, when the server loads that library (shared_preload_libraries),
// as every Heroku database has it (heroku pg:outliers and pg:calls).
//
// Backup runs pg_dump (custom format) as the add-on's own role into any
// io.Writer. Restore makes the database hold exactly the archive read
// from any io.Reader: in one transaction as the role, DROP OWNED and then
// the archive, turned into SQL by pg_restore and applied by psql; it
// commits only if the whole archive was read and applied, so a failed
// restore changes nothing. Extensions the role cannot create (a Heroku
// backup's pg_stat_statements) are left out of the archive with a logged
// warning, where Heroku's pg_restore ignores the errors. Fork provisions a new resource and copies the source by
// dump and restore, always: CREATE DATABASE … TEMPLATE needs the source
// to have no connections (an app's database has some), and its copy
// keeps the source role as owner of every object, which would let the
// source's credentials into the fork. The client tools connect as the
// add-on's role, so they use one of its plan's connections, and get the
// password through PGPASSWORD, never argv.
//
// RotateCredentials (heroku pg:credentials:rotate) gives the role a new
// password (a SCRAM verifier again), records it, and returns an undo that
// puts the previous one back; open sessions stay open.
//
// Named credentials (addons.CredentialManager; heroku
// pg:credentials:create) are roles <id>_<name> that may connect and
// nothing more until granted. DestroyCredential ends their sessions and
// gives what they own to the add-on's role (REASSIGN OWNED) before
// dropping them, so no data goes; RepairDefaultCredential (heroku
// pg:credentials:repair-default) gives it everything they own.
//
// Connection pooling (heroku pg:connection-pooling): PgBouncer runs a real
// PgBouncer in front of the server in transaction mode, where each client
// logs in with its own credentials (SCRAM secrets looked up by the admin),
// and with Provider.PoolerAddr set, PooledURL (addons.Pooler) gives a
// resource's URL through it: more dynos than the plan's connection limit
// then share its server connections.
//
// Reset (heroku pg:reset) drops everything the add-on's role owns in its
// database, as that role and in one transaction, keeping the database,
// role and password, then creates the extensions asked for (those a
// database owner may create).
//
// ResetConnections (heroku pg:killall) terminates every backend connected
// to the add-on's database, from the admin connection.
//
// Settings and UpdateSettings (heroku pg:settings) read and change the
// log settings Heroku lets users change, for the add-on's database alone:
// log_connections, log_lock_waits, log_min_duration_statement,
// log_min_error_statement, log_statement and track_functions. Values are
// checked against each setting before ALTER DATABASE … SET runs (all in
// one transaction); sessions take them when they connect. A setting never
// changed reads as the server's value. Setting them takes a superuser
// admin (or one granted SET on those parameters). "auto_explain" loads
// that library into the database's sessions (session_preload_libraries);
// its own parameters (auto_explain.log_min_duration…) read as their
// defaults until set, since a server that has not loaded the library
// does not know them.
// Provider.InitialSettings are applied to each new database;
// HerokuSettings gives Heroku's (log_min_duration_statement 2000,
// log_statement ddl, log_lock_waits on).
//
// ServerLog follows the server's JSON log (logging_collector on, jsonlog
// in log_destination: PostgreSQL 15 or later) over the admin connection
// with pg_current_logfile and pg_read_binary_file, so a platform can
// route each add-on database's entries (LogEntry.Database is the
// resource ID) to its app's logs, as Heroku's app[postgres] lines. It
// starts at the end of the current file, follows rotations and
// reconnects; a server without a JSON log gives ErrNoJSONLog.
//
// Describe reports the rows of heroku pg:info: Status, Connections
// ("1/5": backends on the database / the role's limit), PG Version, Data
// Size ("7.2 MB", with " / 1 GB (0.70%)" when the plan sets
// Limits.Bytes), Tables, and Fork/Follow and Rollback ("Unsupported").
// It counts tables connected as the add-on's own role, never as the
// admin inside a database the add-on controls; at the plan's connection
// limit that row reads "unknown (all connections in use)".
//
// Diagnose runs heroku pg:diagnose's checks (see Provider.Diagnose): the
// server's activity views and the database's age through the admin
// connection, the per-table checks as the add-on's role.
//
// Limits.Connections is enforced; Limits.Bytes is not (PostgreSQL has no
// per-database size quota).
package postgres
