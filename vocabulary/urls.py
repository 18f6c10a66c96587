from django.urls import path

from vocabulary import ui

urlpatterns = [path("", ui.vocabulary_page, name="ui-vocabulary")]
