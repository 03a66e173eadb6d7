{% macro decimal_pattern() -%}
{#- A numeric property value that a quantity (Decimal(38, 12)) holds exactly. -#}
^-?[0-9]{1,26}([.][0-9]{1,12})?$
{%- endmacro %}
