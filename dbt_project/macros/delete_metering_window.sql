{% macro delete_metering_window(date_column) -%}
{#-
  An incremental run recomputes whole days. Rows of those days are deleted first, so a day
  whose events were all voided ends up empty instead of keeping stale rows.
-#}
{% if is_incremental() %}
delete from {{ this }}
where {{ metering_window(date_column) }}
{% endif %}
{%- endmacro %}
