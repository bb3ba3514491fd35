package api

import (
	"log"
	"net/http"
)

func Signup(w http.ResponseWriter, r *http.Request) {
	email := r.PostFormValue("email")
	log.Println("new signup:", email)
	w.WriteHeader(http.StatusCreated)
}
