{% macro day_start_ms(date_column) -%}
{#-
  The first millisecond of a metering day, as milliseconds since the epoch. Days are UTC
  (CONTRACT.md §3): every day boundary a time-weighted quantity uses is taken from here, so
  a day in another time zone changes this one place.
-#}
toInt64(toUnixTimestamp(toDateTime({{ date_column }}, 'UTC'))) * 1000
{%- endmacro %}
