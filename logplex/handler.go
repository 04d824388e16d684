package logplex

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"
)

// HandlerOptions configure a [Handler]. The zero value works.
type HandlerOptions struct {
	// Level is the minimum level written; nil means slog.LevelInfo.
	Level slog.Leveler
	// AppKey names the attribute that chooses the app's stream; it is not
	// printed. Empty means "app".
	AppKey string
	// ProcKey names the attribute that sets the process ("router",
	// "web.1"); it is not printed. Empty means "dyno".
	ProcKey string
}

// Handler is an slog.Handler that writes records into app log streams, so
// platform components (router, formation, API) log into the stream that
// `heroku logs` shows. Each record becomes one line (split if long):
//
//	at=info msg="State changed from starting to up" key=value
//
// in logfmt, values quoted when they contain spaces, quotes, "=" or
// control bytes. App and Proc come from the template, overridden by
// top-level attributes named AppKey and ProcKey. A record without an app
// is an error. Handle does not stop on a cancelled ctx.
type Handler struct {
	sink  Sink
	tmpl  Message
	opts  HandlerOptions
	attrs []byte // pre-rendered WithAttrs, with group prefixes applied
	group string // current group prefix, "a.b." form
	app   string // app override from WithAttrs; empty means none
	proc  string // proc override from WithAttrs; empty means none
}

var _ slog.Handler = (*Handler)(nil)

// NewHandler returns a handler sending to s, with Source, App and Proc
// taken from tmpl unless attributes override App and Proc.
func NewHandler(s Sink, tmpl Message, opts *HandlerOptions) *Handler {
	h := &Handler{sink: s, tmpl: tmpl}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.AppKey == "" {
		h.opts.AppKey = "app"
	}
	if h.opts.ProcKey == "" {
		h.opts.ProcKey = "dyno"
	}
	return h
}

// Enabled reports whether level is at least the configured level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	min := slog.LevelInfo
	if h.opts.Level != nil {
		min = h.opts.Level.Level()
	}
	return level >= min
}

// Handle renders r and sends it.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	m := h.tmpl
	if h.app != "" {
		m.App = h.app
	}
	if h.proc != "" {
		m.Proc = h.proc
	}
	m.Time = r.Time // zero: the sink stamps it
	buf := make([]byte, 0, 128)
	buf = append(buf, "at="...)
	buf = append(buf, strings.ToLower(r.Level.String())...)
	if r.Message != "" {
		buf = append(buf, " msg="...)
		buf = appendValue(buf, r.Message)
	}
	buf = append(buf, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		if h.group == "" && h.override(&m, a) {
			return true
		}
		buf = appendAttr(buf, h.group, a)
		return true
	})
	m.Text = string(buf)
	// Context is deliberately not passed on: a cancelled ctx must not drop
	// a record (slog.Handler contract).
	return h.sink.Send(context.Background(), m)
}

// override applies an app/proc attribute to m and reports whether it was one.
func (h *Handler) override(m *Message, a slog.Attr) bool {
	switch a.Key {
	case h.opts.AppKey:
		m.App = a.Value.Resolve().String()
		return true
	case h.opts.ProcKey:
		m.Proc = a.Value.Resolve().String()
		return true
	}
	return false
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	h2.attrs = append([]byte(nil), h.attrs...)
	for _, a := range attrs {
		if h.group == "" {
			var m Message
			if h.override(&m, a) {
				if m.App != "" {
					h2.app = m.App
				}
				if m.Proc != "" {
					h2.proc = m.Proc
				}
				continue
			}
		}
		h2.attrs = appendAttr(h2.attrs, h.group, a)
	}
	return &h2
}

// WithGroup returns a handler that prefixes later attribute keys with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if a.Value.Kind() == slog.KindGroup {
		attrs := a.Value.Group()
		if len(attrs) == 0 {
			return buf
		}
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, ga := range attrs {
			buf = appendAttr(buf, prefix, ga)
		}
		return buf
	}
	buf = append(buf, ' ')
	buf = append(buf, prefix...)
	buf = append(buf, a.Key...)
	buf = append(buf, '=')
	switch a.Value.Kind() {
	case slog.KindTime:
		return a.Value.Time().UTC().AppendFormat(buf, TimeLayout)
	case slog.KindDuration:
		return append(buf, a.Value.Duration().String()...)
	}
	return appendValue(buf, a.Value.String())
}

func appendValue(buf []byte, s string) []byte {
	if s == "" || needsQuote(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func needsQuote(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == '"' || r == '=' || r == '\\' || r == utf8.RuneError || r == 0x7f {
			return true
		}
	}
	return false
}
