from django.http import HttpResponse
from django.utils.html import format_html


def profile(request):
    bio = request.POST.get("bio", "")
    return HttpResponse(format_html("<div class='bio'>{}</div>", bio))
