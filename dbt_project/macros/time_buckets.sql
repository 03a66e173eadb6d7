{% macro day_start_ms(date_column) -%}
{#-
  The first millisecond of a metering day, as milliseconds since the epoch. Days are UTC
  (CONTRACT.md §3): every day boundary a time-weighted quantity uses is taken from here, and
  every percentile bucket from `bucket_of`, so a day in another time zone changes this file.
-#}
toInt64(toUnixTimestamp(toDateTime({{ date_column }}, 'UTC'))) * 1000
{%- endmacro %}

{% macro bucket_of(timestamp_column, bucket_ms) -%}
{#- The percentile bucket an instant falls in: buckets are aligned to UTC multiples of their
    length since the epoch, which, dividing a day, start at every UTC midnight. -#}
intDiv(toUnixTimestamp64Milli({{ timestamp_column }}), {{ bucket_ms }})
{%- endmacro %}

{% macro buckets_per_day(bucket_ms) -%}
intDiv(86400000, {{ bucket_ms }})
{%- endmacro %}
