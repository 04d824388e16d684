package router

import (
	"fmt"
	"html"
	"net/url"
	"strconv"
)

// Page is a custom page served for router errors or maintenance. Either URL
// (the page is shown in a full-window iframe, as Heroku does with
// ERROR_PAGE_URL/MAINTENANCE_PAGE_URL) or Body (served as is) may be set.
type Page struct {
	URL         string
	Body        []byte
	ContentType string // for Body; default "text/html; charset=utf-8"
}

// ErrorPages are an app's overrides of the built-in pages. The zero value
// means built-in pages.
type ErrorPages struct {
	Error       Page // H10–H99 except H80
	Maintenance Page // H80
}

func (p Page) validate(which string) error {
	if p.URL != "" && p.Body != nil {
		return fmt.Errorf("%s page: set URL or Body, not both", which)
	}
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s page: URL %q: want an absolute http(s) URL", which, p.URL)
		}
	}
	return nil
}

func (p ErrorPages) validate() error {
	if err := p.Error.validate("error"); err != nil {
		return err
	}
	return p.Maintenance.validate("maintenance")
}

const (
	builtinErrorPage = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Application Error</title></head>
<body>
<h1>Application error</h1>
<p>An error occurred in the application and your page could not be served. If you are the application owner, check your logs for details.</p>
</body>
</html>
`
	builtinMaintenancePage = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Offline for Maintenance</title></head>
<body>
<h1>Offline for maintenance</h1>
<p>This app is undergoing maintenance right now. Please check back later.</p>
</body>
</html>
`
	noSuchAppPage = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>No such app</title></head>
<body>
<h1>No such app</h1>
<p>There is no app configured at that hostname.</p>
</body>
</html>
`
)

func iframePage(u string) []byte {
	return []byte(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><style>html,body,iframe{margin:0;padding:0;border:0;width:100%;height:100%}</style></head>
<body><iframe src="` + html.EscapeString(u) + `"></iframe></body>
</html>
`)
}

// pageFor returns the body and content type of the page for code c.
func pageFor(pages *ErrorPages, c Code) ([]byte, string) {
	builtin := builtinErrorPage
	var p Page
	if pages != nil {
		p = pages.Error
	}
	if c == H80 {
		builtin = builtinMaintenancePage
		p = Page{}
		if pages != nil {
			p = pages.Maintenance
		}
	}
	const html = "text/html; charset=utf-8"
	switch {
	case p.URL != "":
		return iframePage(p.URL), html
	case p.Body != nil:
		ct := p.ContentType
		if ct == "" {
			ct = html
		}
		return p.Body, ct
	}
	return []byte(builtin), html
}

// contentLength is a small helper so error responses carry an exact length.
func contentLength(b []byte) string { return strconv.Itoa(len(b)) }
