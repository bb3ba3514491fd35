function showMessage() {
  const msg = decodeURIComponent(window.location.hash.substring(1));
  document.querySelector("#banner").innerHTML = "<b>" + msg + "</b>";
}
showMessage();
