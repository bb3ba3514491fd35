package directory

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/antchfx/xmlquery"
)

var members *xmlquery.Node

func Email(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if strings.ContainsAny(name, "'\"") {
		http.Error(w, "invalid name", http.StatusBadRequest)
		return
	}
	expr := fmt.Sprintf("//member[@name='%s']/email", name)
	node := xmlquery.FindOne(members, expr)
	if node == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(node.InnerText()))
}
