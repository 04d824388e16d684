// Command web is the demo app's web process: it answers every request on
// $PORT with the GREETING config var and the name of the dyno serving it.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		log.Fatal("web: PORT is not set: run me through a Procfile runner")
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s (served by %s)\n", os.Getenv("GREETING"), os.Getenv("DYNO"))
	})
	log.Printf("listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
