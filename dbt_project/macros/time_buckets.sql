{% macro local_date(timestamp_column, timezone) -%}
{#-
  The date an instant falls on in the customer's time zone (docs/invoicing.md, "Time
  zones"). UTC customers, the common case, take the plain UTC date; the zone of a customer
  is a column, which ClickHouse formats only with `allow_nonconst_timezone_arguments`
  (set by the profile and by the views that need it).
-#}
if(
    {{ timezone }} = 'UTC',
    toDate({{ timestamp_column }}),
    toDate(toString({{ timestamp_column }}, {{ timezone }}))
)
{%- endmacro %}

{% macro day_start_ms(date_column, timezone) -%}
{#-
  The first instant of a local day, in milliseconds since the epoch: its local midnight (a
  DST day has 23 or 25 hours, never approximated by adding 86,400 s). Every day boundary a
  time-weighted quantity or a percentile uses is taken from here. For a zone, the instant
  is found from the offset at the wall-clock midnight read as UTC, corrected once by the
  offset at the first guess; where midnight does not exist (a DST gap at midnight), the day
  starts at the first instant that falls on it, the transition.
-#}
{%- set wall = "toInt64(toUnixTimestamp(toDateTime(" ~ date_column ~ ", 'UTC')))" -%}
{%- set first_guess = "(" ~ wall ~ " - (" ~ wall_seconds(wall, timezone) ~ " - " ~ wall ~ "))" -%}
{%- set second_guess = "(" ~ wall ~ " - (" ~ wall_seconds(first_guess, timezone) ~ " - " ~ first_guess ~ "))" -%}
1000 * if(
    {{ timezone }} = 'UTC',
    {{ wall }},
    least(
        if({{ local_date_of_second(first_guess, timezone) }} = {{ date_column }}, {{ first_guess }}, {{ wall }} + 86400),
        if({{ local_date_of_second(second_guess, timezone) }} = {{ date_column }}, {{ second_guess }}, {{ wall }} + 86400)
    )
)
{%- endmacro %}

{% macro wall_seconds(seconds, timezone) -%}
{#- The local wall-clock time of an instant (seconds since the epoch), read as if it were UTC. -#}
toInt64(toUnixTimestamp(toDateTime(toString(toDateTime({{ seconds }}, 'UTC'), {{ timezone }}), 'UTC')))
{%- endmacro %}

{% macro local_date_of_second(seconds, timezone) -%}
toDate(toString(toDateTime({{ seconds }}, 'UTC'), {{ timezone }}))
{%- endmacro %}

{% macro bucket_of(ms, day_start_ms, bucket_ms) -%}
{#- The percentile bucket of an instant (milliseconds since the epoch) within its local day:
    buckets are aligned to the day's start, so none spans two days; on a day whose length
    the bucket does not divide (a DST day), the last one is shorter. -#}
intDiv({{ ms }} - {{ day_start_ms }}, {{ bucket_ms }})
{%- endmacro %}

{% macro buckets_between(first_date, end_date, timezone, bucket_ms) -%}
{#- How many percentile buckets the local days [first_date, end_date) hold: each day's
    length divided by the bucket, rounded up. -#}
arraySum(arrayMap(
    day -> intDiv({{ day_start_ms('day + 1', timezone) }} - {{ day_start_ms('day', timezone) }} + {{ bucket_ms }} - 1, {{ bucket_ms }}),
    arrayMap(i -> {{ first_date }} + i, range(toUInt32(greatest(dateDiff('day', {{ first_date }}, {{ end_date }}), 0))))
))
{%- endmacro %}
