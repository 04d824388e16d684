// Package redis is an add-on provider that gives each add-on an ACL user
// on a Redis 7 server, confined to its own key prefix, reached through
// REDIS_URL (redis://user:password@host:port) and REDIS_KEY_PREFIX.
//
// Provision defines, for a request id, an ACL user named ResourceID
// ("rd" + 24 hex digits derived from the request id) with a 32-byte
// random password (only its SHA-256 is sent to the server), allowed keys
// "<id>:*" and channels "<id>:*", and every command except the
// dangerous and admin categories and those that list or reach data
// without naming keys (SCAN, RANDOMKEY, DBSIZE, SELECT, SWAPDB, MOVE,
// PUBSUB, FUNCTION, SCRIPT FLUSH). Redis checks key and channel
// patterns on every other command, so one add-on's user gets NOPERM on
// another's keys. The password and plan live in key
// dynokit:addons:<id>, outside every add-on's prefix. ACL SETUSER
// starts from "reset", so a retried provision repairs a half-made user;
// HSETNX picks one password when provisions race.
//
// Deprovision deletes the user (Redis disconnects its clients), unlinks
// every key under the prefix and forgets the record; unknown ids give
// addons.ErrNotFound. ChangePlan records the new plan: Redis has no
// per-user memory or connection limits, so plan Limits are not enforced.
//
// RotateCredentials (addons.CredentialRotator; heroku redis:credentials
// --reset) gives the user a new password, recorded with it: new logins
// need it and the old one is refused; its undo puts the old one back.
//
// Describe reports rows in the style of heroku redis:info: Status,
// Version (the server's), Keys (SCAN MATCH over the prefix in steps of
// 1000, never KEYS), Connections (CLIENT LIST lines of the add-on's
// user), and Maxmemory (the eviction policy) and Persistence from CONFIG
// GET; rows the admin user may not read are left out.
//
// Gateway serves clients that log in with a password alone (AUTH
// <password>: heroku redis:cli, and clients written for Heroku's
// user-less REDIS_URLs), which an ACL user cannot take directly. Such a
// client is given GatewayURL's rediss://:<user>.<password>@<gateway>; the
// gateway answers NOAUTH to anything before AUTH (within Redis's own
// limits for unauthenticated clients), logs in to the server as the user
// the token names — add-on users only, so the default and admin users are
// not reachable through it — and then joins the two connections. It adds
// no right a client did not have: the server checks the password.
//
// The ACL lives in the server's memory: a server without an aclfile
// loses the users when it restarts. Persisting them (aclfile + ACL SAVE)
// is the server operator's choice and is not done here.
package redis
