from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "sala.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        # Every process that saves a member must tell the others' memories, not only the
        # web workers that sign members in (sala/accounts/remembered.py).
        from sala.accounts import cached_pages, remembered
        from sala.accounts.events import MemberChanged
        from sala.core import events

        events.listen(MemberChanged, remembered.forget_member)
        events.listen(MemberChanged, cached_pages.drop_cached_profile)
