// Command worker prints a line every 200 ms.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	for i := 0; ; i++ {
		fmt.Printf("worker tick %d on %s\n", i, os.Getenv("DYNO"))
		time.Sleep(200 * time.Millisecond)
	}
}
