package main

import (
	"html"
	"io"
	"net/http"
)

func echo(w http.ResponseWriter, r *http.Request) {
	msg := r.PostFormValue("msg")
	io.WriteString(w, "<div>"+html.EscapeString(msg)+"</div>")
}
