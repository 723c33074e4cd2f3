from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SampleConfig(AppConfig):
    name = "sala.sample"
    label = "sample"
    verbose_name = _("Sample community")
