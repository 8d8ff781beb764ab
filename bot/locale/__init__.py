"""The gettext catalogs (crate.pot, and <language>/LC_MESSAGES/crate.po): see bot/i18n.py."""
