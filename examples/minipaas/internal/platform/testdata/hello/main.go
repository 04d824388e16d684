// Command hello answers every request with $GREETING and $DYNO; /busy
// takes 30 ms and one request at a time, so concurrent clients queue;
// /env/NAME answers with $NAME.
package main

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s from %s\n", os.Getenv("GREETING"), os.Getenv("DYNO"))
	})
	http.HandleFunc("/env/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv(r.PathValue("name")))
	})
	var busy sync.Mutex
	http.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) {
		busy.Lock()
		time.Sleep(30 * time.Millisecond)
		busy.Unlock()
		fmt.Fprintf(w, "done by %s\n", os.Getenv("DYNO"))
	})
	fmt.Println("hello listening on", os.Getenv("PORT"))
	if err := http.ListenAndServe(":"+os.Getenv("PORT"), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
