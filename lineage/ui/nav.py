"""The lineage picture's entry in the console's navigation (anyone signed in reads lineage)."""

from console.registry import nav_entry

nav_entry("Lineage", "ui-lineage", order=45, section="/lineage/")
