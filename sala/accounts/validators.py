"""Rules for names members choose: no characters that hide, reorder or impersonate."""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

#: Punctuation a username may contain besides letters and digits.
USERNAME_PUNCTUATION = "_.-"

# Scripts that are written together and so may share one username.
_SCRIPT_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HALFWIDTH": "CJK", "IDEOGRAPHIC": "CJK"}


def _is_hidden(character: str) -> bool:
    """Return whether `character` is invisible or changes how text around it is shown.

    Covers format characters (zero-width joiners, right-to-left overrides), controls,
    private-use and unassigned code points, and every kind of space.
    """
    category = unicodedata.category(character)
    return category in {"Cf", "Cc", "Co", "Cs", "Cn"} or category.startswith("Z")


def _is_mark(character: str) -> bool:
    return unicodedata.category(character).startswith("M") if character else False


def _is_name_character(character: str) -> bool:
    """Return whether `character` may appear in a username.

    Vowel signs and other combining marks count: Khmer, Devanagari and many other
    scripts cannot write a name without them.
    """
    return character.isalnum() or character in USERNAME_PUNCTUATION or _is_mark(character)


def _script(character: str) -> str:
    """Return the script a letter belongs to, from the first word of its Unicode name."""
    first_word = unicodedata.name(character, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_FAMILIES.get(first_word, first_word)


def validate_username(value: str) -> None:
    """Refuse a username that could hide characters or impersonate another member.

    Allowed: letters and digits of any one script, and ``_ . -``. Refused: invisible and
    direction-changing characters, compatibility forms (fullwidth letters, ligatures),
    and letters of several scripts mixed (a Cyrillic "a" among Latin letters).
    """
    if any(_is_hidden(character) for character in value):
        raise ValidationError(
            _("Usernames can't contain spaces or invisible characters."), code="hidden"
        )
    if unicodedata.normalize("NFKC", value) != value:
        raise ValidationError(
            _("Use plain letters: fullwidth forms, ligatures and similar aren't allowed."),
            code="compatibility",
        )
    if not all(_is_name_character(c) for c in value) or _is_mark(value[:1]):
        raise ValidationError(
            _("Use only letters, digits and the characters _ . -"), code="characters"
        )
    scripts = {_script(character) for character in value if character.isalpha()}
    if len(scripts) > 1:
        raise ValidationError(
            _("Use letters from one alphabet: mixed alphabets can imitate other names."),
            code="mixed_scripts",
        )


def validate_display_name(value: str) -> None:
    """Refuse a display name with invisible or direction-changing characters.

    Spaces are allowed between words; everything else is escaped when shown.
    """
    if any(_is_hidden(character) and character != " " for character in value):
        raise ValidationError(
            _("Display names can't contain invisible or direction-changing characters."),
            code="hidden",
        )
    if value != value.strip():
        raise ValidationError(_("Remove the spaces at the start or end."), code="spaces")


class NotOnlySpacesPasswordValidator:
    """Refuse a password made only of spaces: long enough for the length rule, yet a guess.

    Listed in AUTH_PASSWORD_VALIDATORS, so sign-up, reset and change all apply it.
    """

    def validate(self, password: str, user: object = None) -> None:
        if password and not password.strip():
            raise ValidationError(
                _("Your password can't be only spaces."), code="password_only_spaces"
            )

    def get_help_text(self) -> str:
        return str(_("Your password can't be only spaces."))


#: The validators allauth applies to new usernames (ACCOUNT_USERNAME_VALIDATORS).
USERNAME_VALIDATORS = [validate_username]
