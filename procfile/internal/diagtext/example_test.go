package diagtext_test

import (
	"errors"
	"fmt"

	"github.com/dynokit/dynokit/procfile/internal/diagtext"
)

func Example() {
	one := errors.New(diagtext.Format("pkg", 3, diagtext.SeverityName(diagtext.SeverityError), "bad line", "some-rule"))
	whole := errors.New(diagtext.Format("pkg", 0, diagtext.SeverityName(diagtext.SeverityWarning), "empty file", "empty-file"))
	fmt.Println(diagtext.Join("pkg", []error{}))
	fmt.Println(diagtext.Join("pkg", []error{one}))
	fmt.Println(diagtext.Join("pkg", []error{one, whole}))
	fmt.Println(diagtext.SeverityName(7), len(diagtext.Unwrap([]error{one, whole})))
	// Output:
	// pkg: no errors
	// pkg: line 3: error: bad line (some-rule)
	// pkg: 2 problems:
	// 	line 3: error: bad line (some-rule)
	// 	warning: empty file (empty-file)
	// Severity(7) 2
}
