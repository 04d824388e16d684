package formation

import (
	"strings"
	"testing"
)

func TestDeploymentValidate(t *testing.T) {
	good := func() Deployment {
		return Deployment{
			App: "shop", Release: 3,
			Slug:      SlugSource{URL: "http://127.0.0.1:1/slugs/abc", Digest: "SHA256:abc"},
			Processes: map[string]ProcessSpec{"web": {Command: "bin/web", Quantity: 2}, "worker": {Command: "bin/w"}},
		}
	}
	tests := []struct {
		name   string
		modify func(*Deployment)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(*Deployment) {}, ""},
		{"no processes", func(d *Deployment) { d.Processes = nil }, ""},
		{"empty app", func(d *Deployment) { d.App = "" }, "Deployment.App"},
		{"negative release", func(d *Deployment) { d.Release = -1 }, "Release -1"},
		{"no slug URL", func(d *Deployment) { d.Slug.URL = "" }, "Slug.URL"},
		{"negative grace", func(d *Deployment) { d.Grace = -1 }, "Grace"},
		{"reserved type", func(d *Deployment) { d.Processes["run"] = ProcessSpec{Command: "x"} }, `"run" is reserved`},
		{"bad type rune", func(d *Deployment) { d.Processes["we b"] = ProcessSpec{Command: "x"} }, `contains ' '`},
		{"empty command", func(d *Deployment) { d.Processes["web"] = ProcessSpec{Quantity: 1} }, "empty command"},
		{"negative quantity", func(d *Deployment) { d.Processes["web"] = ProcessSpec{Command: "x", Quantity: -1} }, "quantity -1"},
		{"quantity over max", func(d *Deployment) { d.Processes["web"] = ProcessSpec{Command: "x", Quantity: MaxQuantity + 1} }, "quantity"},
		{"negative cpu shares", func(d *Deployment) {
			d.Processes["web"] = ProcessSpec{Command: "x", Resources: Resources{MemoryBytes: 1 << 20, CPUShares: -2}}
		}, "process type web: Resources.CPUShares -2 must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good()
			tt.modify(&d)
			err := d.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
