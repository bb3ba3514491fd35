from django.http import HttpResponse
from django.utils.safestring import mark_safe


def profile(request):
    bio = request.POST.get("bio", "")
    return HttpResponse(mark_safe("<div class='bio'>" + bio + "</div>"))
