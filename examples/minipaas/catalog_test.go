package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dynokit/dynokit/examples/minipaas/internal/herokucli"
)

// TestHerokuCLICatalog: the CLI's region, stack, team, space and access
// commands see one region and stack, no teams or spaces, and the owner as
// the only collaborator; changing those is refused with the reason.
func TestHerokuCLICatalog(t *testing.T) {
	m := startMinipaas(t)
	cli := herokucli.Require(t, m.apiURL, m.token)
	heroku := herokuFunc(t, cli)
	const app = "catalog"
	heroku("apps:create", app, "--stack", "local", "--region", "local")
	expectIn(t, heroku("regions"), "local", "This machine")
	expectIn(t, heroku("apps:stacks", "-a", app), "* local")
	expectIn(t, heroku("stack:set", "local", "-a", app), "Setting stack to local... done")
	expectIn(t, heroku("access", "-a", app), accountEmail, "owner")
	heroku("teams")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stack:set", "heroku-24", "-a", app}, `Stack "heroku-24" is not available on minipaas`},
		{[]string{"apps:create", "stacked", "--stack", "heroku-24"}, `Stack "heroku-24" is not available on minipaas`},
		{[]string{"apps:create", "abroad", "--region", "eu"}, `Region "eu" is not available on minipaas`},
		{[]string{"access:add", "dev@example.com", "-a", app}, "cannot add collaborators"},
		{[]string{"spaces"}, "You do not have access to any spaces"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := cli.Run(ctx, tc.args...)
		cancel()
		// The CLI wraps long messages; compare them on one line.
		out := strings.Join(strings.Fields(strings.ReplaceAll(res.Stdout+res.Stderr, "›", "")), " ")
		if err != nil || res.ExitCode == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("heroku %s: %v %s; want a failure saying %q", strings.Join(tc.args, " "), err, res, tc.want)
		}
	}
}
