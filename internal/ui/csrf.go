package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// csrfCookie holds a random value per browser; forms carry csrfField, an
// HMAC of that value under a secret that lives only in this process. A
// page on another site can make a browser send the cookie but can neither
// read it nor compute the HMAC, so its POST carries no valid token. After
// a restart the secret is new and an open form is refused once: the page
// says so and the reloaded form works.
const (
	csrfCookie = "tocsin_csrf"
	csrfField  = "csrf_token"
)

// csrf makes and checks the tokens of the pages' forms.
type csrf struct {
	secret []byte
	path   string // cookie path: the route prefix
	secure bool   // the external URL is https
}

func newCSRF(path string, secure bool) *csrf {
	if path == "" {
		path = "/"
	}
	return &csrf{secret: []byte(rand.Text()), path: path, secure: secure}
}

// token returns the form token for this browser, setting its cookie when
// the browser has none yet. It is called before the page is written.
func (c *csrf) token(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 16 {
		v = ck.Value
	} else {
		v = rand.Text()
		http.SetCookie(w, &http.Cookie{
			Name: csrfCookie, Value: v, Path: c.path,
			HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode,
		})
	}
	return c.sign(v)
}

func (c *csrf) sign(v string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// valid tells whether a POST carries the token that belongs to its cookie.
// The form must already be parsed.
func (c *csrf) valid(r *http.Request) bool {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || len(ck.Value) < 16 {
		return false
	}
	got := r.PostForm.Get(csrfField)
	return got != "" && hmac.Equal([]byte(got), []byte(c.sign(ck.Value)))
}
