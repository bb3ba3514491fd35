package auth

import "github.com/golang-jwt/jwt/v5"

func Subject(bearer string) (string, error) {
	claims := jwt.MapClaims{}
	_, _, err := jwt.NewParser().ParseUnverified(bearer, claims)
	if err != nil {
		return "", err
	}
	return claims.GetSubject()
}
