{% macro catalog_in_force() -%}
{#- Rows of the catalog in force: the highest applied version (catalog apply writes it last). -#}
catalog_version = (select max(catalog_version) from {{ source('billing', 'catalog_versions') }})
{%- endmacro %}
