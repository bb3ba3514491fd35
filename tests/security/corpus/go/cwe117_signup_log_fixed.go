package api

import (
	"log"
	"net/http"
	"strconv"
)

func Signup(w http.ResponseWriter, r *http.Request) {
	email := r.PostFormValue("email")
	log.Println("new signup:", strconv.Quote(email))
	w.WriteHeader(http.StatusCreated)
}
