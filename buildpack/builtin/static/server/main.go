// Command dynokit-static serves a static site on $PORT. The static
// buildpack compiles it into the slug as bin/dynokit-static.
//
// Configuration is read from static.json in the working directory (the app
// root), if present:
//
//	{"root": "public"}
//
// root is the directory to serve, relative to the app (default "."). Paths
// with a segment starting with "." (.profile.d, .git, ...) are not served.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type config struct {
	Root string `json:"root"`
}

func loadConfig() (config, error) {
	c := config{Root: "."}
	data, err := os.ReadFile("static.json")
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("static.json: %w", err)
	}
	if c.Root == "" {
		c.Root = "."
	}
	if !filepath.IsLocal(c.Root) {
		return c, fmt.Errorf("static.json: root %q must be a directory inside the app", c.Root)
	}
	return c, nil
}

func hidden(urlPath string) bool {
	for _, seg := range strings.Split(urlPath, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		log.Fatal("dynokit-static: PORT is not set")
	}
	c, err := loadConfig()
	if err != nil {
		log.Fatalf("dynokit-static: %v", err)
	}
	files := http.FileServerFS(os.DirFS(c.Root))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hidden(r.URL.Path) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: ":" + port, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("dynokit-static: serving %s on :%s", c.Root, port)
	log.Fatal(srv.ListenAndServe())
}
