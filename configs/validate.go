package configs

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/common/config"
)

// validator checks a decoded config and reports each problem at the place
// in the file where the offending value was written.
type validator struct {
	*collector
	pos positions
	dir string
	// templateFields collects every message template met, for the render
	// check; sendResolved is the setting of the integration being checked.
	templateFields []TemplateField
	sendResolved   bool
	checkedHTTP    map[*config.HTTPClientConfig]bool
	// warnings are valid settings that may not do what the user expects;
	// they never stop a config from loading.
	warnings Errors
}

// warnAt records a warning at the first of ptrs written in the file.
func (v *validator) warnAt(ptrs []any, format string, args ...any) {
	e := &Error{File: v.file, Msg: "warning: " + fmt.Sprintf(format, args...)}
	for _, p := range ptrs {
		if n := v.pos.of(p); n != nil {
			e.Line, e.Column = n.Line, n.Column
			break
		}
	}
	v.warnings = append(v.warnings, e)
}

// errorf records a problem with the value ptr points to. When that value was
// not written in the file (a default or a missing key), the nearest written
// parent, passed as fallbacks, gives the position instead.
func (v *validator) errorf(ptr any, format string, args ...any) {
	v.at(v.pos.of(ptr), format, args...)
}

// errorfAt is errorf with explicit fallbacks for values that may be absent.
func (v *validator) errorfAt(ptrs []any, format string, args ...any) {
	for _, p := range ptrs {
		if n := v.pos.of(p); n != nil {
			v.at(n, format, args...)
			return
		}
	}
	v.at(nil, format, args...)
}

// secret resolves a secret given either inline or as a path in its *_file
// twin (never both). A file's content, with surrounding white space trimmed,
// is stored in inline, and the file's path is resolved against the config's
// directory: integrations read the file again with ReadSecret each time they
// send, and fall back to inline when it has become unreadable. parent is the
// section holding both keys, used for the position when neither is set.
func (v *validator) secret(parent any, inline *config.Secret, file *string, key string, required bool) {
	switch {
	case *inline != "" && *file != "":
		v.errorf(file, "set either %s or %s_file, not both", key, key)
	case *file != "":
		path := *file
		if !filepath.IsAbs(path) {
			path = filepath.Join(v.dir, path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			v.errorf(file, "%s_file: cannot read secret: %v", key, unwrapPathError(err))
			return
		}
		content := strings.TrimSpace(string(data))
		if content == "" {
			v.errorf(file, "%s_file: %s is empty", key, *file)
			return
		}
		*inline = config.Secret(content)
		*file = path
	case required && *inline == "":
		v.errorfAt([]any{inline, parent}, "%s or %s_file is required", key, key)
	}
}

// unwrapPathError keeps the reason of a file error; the path is already in the message.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// url checks that *s is an absolute URL with one of the given schemes.
func (v *validator) url(parent any, s *string, key string, required bool, schemes ...string) *url.URL {
	if *s == "" {
		if required {
			v.errorfAt([]any{s, parent}, "%s is required", key)
		}
		return nil
	}
	u, err := url.Parse(*s)
	if err != nil {
		v.errorf(s, "%s: bad URL: %v", key, unwrapURLError(err))
		return nil
	}
	if len(schemes) > 0 && !slices.Contains(schemes, u.Scheme) {
		v.errorf(s, "%s: URL %q must use %s", key, u.Redacted(), strings.Join(schemes, " or "))
		return nil
	}
	if u.Host == "" {
		v.errorf(s, "%s: URL %q has no host", key, u.Redacted())
		return nil
	}
	return u
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// unique reports every repeated name after its first use.
func (v *validator) unique(kind string, names []*string) {
	seen := map[string]bool{}
	for _, n := range names {
		if *n == "" {
			continue
		}
		if seen[*n] {
			v.errorf(n, "%s name %q is used more than once", kind, *n)
		}
		seen[*n] = true
	}
}

// oneOf reports when not exactly one of the named sections is set.
func (v *validator) oneOf(parent any, what string, set map[string]bool) {
	var present []string
	for k, ok := range set {
		if ok {
			present = append(present, k)
		}
	}
	slices.Sort(present)
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	switch len(present) {
	case 0:
		v.errorf(parent, "%s needs one of: %s", what, strings.Join(keys, ", "))
	case 1:
	default:
		v.errorf(parent, "%s takes only one of %s; found %s", what, strings.Join(keys, ", "), strings.Join(present, " and "))
	}
}
