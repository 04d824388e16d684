package platformapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/dynokit/dynokit/examples/minipaas/internal/platformapi"
)

func ExampleParseRange() {
	for _, h := range []string{
		"version ..; order=desc,max=1",   // heroku config:set
		"version ..; max=15, order=desc", // heroku releases
		"id ]01HX..; max=200",            // a Next-Range sent back
	} {
		r, err := platformapi.ParseRange(h, "version", "id")
		fmt.Printf("field=%s start=%q exclusive=%v max=%d desc=%v err=%v\n", r.Field, r.Start, r.StartExclusive, r.Max, r.Desc, err)
	}
	// Output:
	// field=version start="" exclusive=false max=1 desc=true err=<nil>
	// field=version start="" exclusive=false max=15 desc=true err=<nil>
	// field=id start="01HX" exclusive=true max=200 desc=false err=<nil>
}

func ExamplePaginate() {
	type release struct {
		Version int `json:"version"`
	}
	var releases []release
	for v := 1; v <= 20; v++ {
		releases = append(releases, release{v})
	}
	byVersion := platformapi.Field[release]{Name: "version", Key: func(r release) string { return strconv.Itoa(r.Version) }, Numeric: true}

	rng := "version ..; max=15, order=desc"
	for rng != "" {
		req := httptest.NewRequest("GET", "/apps/demo/releases", nil)
		req.Header.Set("Range", rng)
		rec := httptest.NewRecorder()
		if err := platformapi.Paginate(rec, req, releases, byVersion); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%d Content-Range: %s\n", rec.Code, rec.Header().Get("Content-Range"))
		rng = rec.Header().Get("Next-Range")
		if rng != "" {
			fmt.Printf("    Next-Range: %s\n", rng)
		}
	}
	// Output:
	// 206 Content-Range: version 20..6; max=15, order=desc
	//     Next-Range: version ]6..; max=15, order=desc
	// 200 Content-Range: version 5..1; max=15, order=desc
}

func ExampleServer() {
	api := &platformapi.Server{Token: "key"}
	api.Handle("GET /apps/{app}", func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("app") != "demo" {
			return platformapi.NotFound("app", r.PathValue("app"))
		}
		platformapi.WriteJSON(w, http.StatusOK, map[string]string{"name": "demo"})
		return nil
	})
	for _, path := range []string{"/apps/demo", "/apps/ghost"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
		req.Header.Set("Authorization", "Bearer key")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 {"name":"demo"}
	// 404 {"id":"not_found","message":"Couldn't find that app: ghost."}
}

// A client that kept a GET's ETag asks again with If-None-Match: while the
// answer is the same, it gets 304 and no body.
func ExampleServer_ifNoneMatch() {
	api := &platformapi.Server{Token: "key"}
	api.Handle("GET /apps/{app}", func(w http.ResponseWriter, r *http.Request) error {
		platformapi.WriteJSON(w, http.StatusOK, map[string]string{"name": r.PathValue("app")})
		return nil
	})
	get := func(etag string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/apps/demo", nil)
		req.Header.Set("Accept", "application/vnd.heroku+json; version=3")
		req.Header.Set("Authorization", "Bearer key")
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		return rec
	}
	first := get("")
	fmt.Print(first.Code, " ETag: ", first.Header().Get("ETag"), " ", first.Body.String())
	again := get(first.Header().Get("ETag"))
	fmt.Printf("%d ETag: %s body: %q\n", again.Code, again.Header().Get("ETag"), again.Body.String())
	// Output:
	// 200 ETag: "e55654f16429cee2fc13f1416af140ac" {"name":"demo"}
	// 304 ETag: "e55654f16429cee2fc13f1416af140ac" body: ""
}
