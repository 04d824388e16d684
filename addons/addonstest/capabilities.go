package addonstest

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/dynokit/dynokit/addons"
)

// The checks of the optional capabilities a provider implements; each
// skips when the provider lacks it (or the Suite lacks the hooks it needs).

// testBackupRestore: a restore brings back what the backup held, and a
// restore of something that is not a backup fails and changes nothing.
func (s Suite) testBackupRestore(t *testing.T) {
	b, ok := s.Provider.(addons.Backuper)
	if !ok || s.Put == nil || s.Get == nil {
		t.Skip("provider does not back up, or the suite has no Put and Get")
	}
	res := s.provision(t, requestID(10), s.Plans[0])
	s.Put(t, res, "before the backup")
	var backup bytes.Buffer
	if err := b.Backup(s.ctx(t), res.ID, &backup); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if backup.Len() == 0 {
		t.Fatal("Backup wrote nothing")
	}
	s.Put(t, res, "after the backup")
	if err := b.Restore(s.ctx(t), res.ID, bytes.NewReader(backup.Bytes())); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got := s.Get(t, res); got != "before the backup" {
		t.Errorf("after Restore, Get = %q, want what the backup held", got)
	}
	s.Put(t, res, "kept")
	if err := b.Restore(s.ctx(t), res.ID, strings.NewReader("not a backup")); err == nil {
		t.Error("Restore of garbage succeeded")
	}
	if got := s.Get(t, res); got != "kept" {
		t.Errorf("a failed Restore changed the data: Get = %q, want %q", got, "kept")
	}
	if err := b.Backup(s.ctx(t), "never-provisioned", &backup); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Backup(unknown id) = %v, want ErrNotFound", err)
	}
}

// testReset: a reset empties the resource and keeps its credentials.
func (s Suite) testReset(t *testing.T) {
	r, ok := s.Provider.(addons.Resetter)
	if !ok || s.Put == nil || s.Get == nil {
		t.Skip("provider does not reset, or the suite has no Put and Get")
	}
	res := s.provision(t, requestID(11), s.Plans[0])
	s.Put(t, res, "to be reset")
	if err := r.Reset(s.ctx(t), res.ID, nil); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if got := s.Get(t, res); got != "" {
		t.Errorf("after Reset, Get = %q, want nothing", got)
	}
	if s.Usable != nil {
		s.Usable(t, res) // the same credentials still work
	}
	if err := r.Reset(s.ctx(t), "never-provisioned", nil); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("Reset(unknown id) = %v, want ErrNotFound", err)
	}
}

// testRotateCredentials: new credentials that work, the old ones refused,
// and undo puts the old ones back.
func (s Suite) testRotateCredentials(t *testing.T) {
	r, ok := s.Provider.(addons.CredentialRotator)
	if !ok {
		t.Skip("provider does not rotate credentials")
	}
	res := s.provision(t, requestID(12), s.Plans[0])
	rotated, undo, err := r.RotateCredentials(s.ctx(t), res.ID)
	if err != nil {
		t.Fatalf("RotateCredentials: %v", err)
	}
	if undo == nil {
		t.Fatal("RotateCredentials returned no undo")
	}
	if rotated.ID != "" && rotated.ID != res.ID {
		t.Errorf("RotateCredentials made a new resource %s (was %s)", rotated.ID, res.ID)
	}
	if maps.Equal(rotated.Config, res.Config) {
		t.Fatal("RotateCredentials returned the same config")
	}
	if s.Usable != nil {
		s.Usable(t, rotated)
	}
	if s.Refused != nil {
		s.Refused(t, res) // the old credentials
	}
	if err := undo(s.ctx(t)); err != nil {
		t.Fatalf("undo: %v", err)
	}
	if s.Usable != nil {
		s.Usable(t, res)
	}
	if s.Refused != nil {
		s.Refused(t, rotated)
	}
	if _, _, err := r.RotateCredentials(s.ctx(t), "never-provisioned"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("RotateCredentials(unknown id) = %v, want ErrNotFound", err)
	}
}

// testCredentials: a named credential is listed until destroyed, rotates
// to a new secret (the old one refused, when the suite can tell), is
// refused after destroy; "default" is not a name one can take.
func (s Suite) testCredentials(t *testing.T) {
	cm, ok := s.Provider.(addons.CredentialManager)
	if !ok {
		t.Skip("provider has no named credentials")
	}
	res := s.provision(t, requestID(13), s.Plans[0])
	c, err := cm.CreateCredential(s.ctx(t), res.ID, "reader")
	if err != nil {
		t.Fatalf("CreateCredential: %v", err)
	}
	if c.Name != "reader" || c.URL == "" || slices.Contains(slices.Collect(maps.Values(res.Config)), c.URL) {
		t.Errorf("CreateCredential = %+v: want a name and a URL of its own", c)
	}
	list, err := cm.Credentials(s.ctx(t), res.ID)
	if err != nil || len(list) != 1 || list[0] != c {
		t.Errorf("Credentials = %+v, %v; want just reader", list, err)
	}
	rotated, err := cm.RotateCredential(s.ctx(t), res.ID, "reader")
	if err != nil || rotated.URL == c.URL || rotated.Name != "reader" {
		t.Errorf("RotateCredential = %+v, %v; want a new URL", rotated, err)
	}
	if s.Refused != nil {
		s.Refused(t, addons.Resource{ID: res.ID, Config: addons.Config{s.Prefix + "_URL": c.URL}})
	}
	if _, err := cm.RotateCredential(s.ctx(t), res.ID, "nobody"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("RotateCredential(unknown name) = %v, want ErrNotFound", err)
	}
	login := addons.Resource{ID: res.ID, Config: addons.Config{s.Prefix + "_URL": rotated.URL}}
	if err := cm.DestroyCredential(s.ctx(t), res.ID, "reader"); err != nil {
		t.Fatalf("DestroyCredential: %v", err)
	}
	if s.Refused != nil {
		s.Refused(t, login)
	}
	if list, err := cm.Credentials(s.ctx(t), res.ID); err != nil || len(list) != 0 {
		t.Errorf("Credentials after destroy = %+v, %v", list, err)
	}
	if err := cm.DestroyCredential(s.ctx(t), res.ID, "reader"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("DestroyCredential again = %v, want ErrNotFound", err)
	}
	if _, err := cm.CreateCredential(s.ctx(t), res.ID, "default"); !errors.Is(err, addons.ErrInvalid) {
		t.Errorf(`CreateCredential("default") = %v, want ErrInvalid`, err)
	}
	if _, err := cm.CreateCredential(s.ctx(t), "never-provisioned", "reader"); !errors.Is(err, addons.ErrNotFound) {
		t.Errorf("CreateCredential(unknown id) = %v, want ErrNotFound", err)
	}
}
