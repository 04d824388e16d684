// hello answers HTTP on $PORT; the buildpack tests build and run it.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	port := os.Getenv("PORT")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", os.Getenv("DYNO_NAME"))
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, nil))
}
