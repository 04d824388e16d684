package partner_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/dynokit/dynokit/addons"
	"github.com/dynokit/dynokit/addons/addonstest"
	"github.com/dynokit/dynokit/addons/partner"
)

// A Handler serves a provider over the partner API; a Client provisions
// through it as any platform would.
func Example() {
	handler := &partner.Handler{Provider: addonstest.NewMemProvider("MYADDON", "basic"), ID: "myaddon", Password: "s3cret"}
	srv := httptest.NewServer(handler)
	defer srv.Close()

	client := &partner.Client{BaseURL: srv.URL, ID: "myaddon", Password: "s3cret"}
	ctx := context.Background()
	res, err := client.Provision(ctx, addons.ProvisionRequest{ID: "01234567-89ab-cdef-0123-456789abcdef", Plan: "basic"})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Plan, res.Config)
	_, err = client.Provision(ctx, addons.ProvisionRequest{ID: "another", Plan: "gold"})
	fmt.Println(err)
	fmt.Println(client.Deprovision(ctx, res.ID))
	fmt.Println(client.Deprovision(ctx, res.ID))
	// Output:
	// basic map[MYADDON_URL:[REDACTED]]
	// partner: provision: provider answered 422: plan "gold" is not offered by this add-on
	// <nil>
	// partner: deprovision: provider answered 404: resource not found
}
