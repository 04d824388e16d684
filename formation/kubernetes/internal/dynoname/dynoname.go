// Package dynoname names the dynos of Kubernetes pods, shared by the
// kubernetes package (which lists them) and slugrunner (which sets DYNO).
package dynoname

import "strings"

// Of returns the dyno name of a pod: its process type, a dot and the random
// suffix the ReplicaSet gave the pod's name ("web.x7k2p"). A Deployment's
// pods have no ordinal, so this is the name that stays the same for the
// pod's whole life.
func Of(typ, pod string) string {
	suffix := pod
	if i := strings.LastIndexByte(pod, '-'); i >= 0 {
		suffix = pod[i+1:]
	}
	if suffix == "" {
		return typ
	}
	return typ + "." + suffix
}
