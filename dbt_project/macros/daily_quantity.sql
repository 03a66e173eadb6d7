{% macro daily_quantity(daily, nearest_rank=none) -%}
{#-
  A quantity combined from the daily rows (`daily`, grouped) of one metric and group, the
  way its aggregation (the `aggregation` column, any() of the rows) combines across days;
  a percentile's, when the caller gives its `nearest_rank` expression.
-#}
multiIf(
    aggregation = 'count', toDecimal128(sum({{ daily }}.event_count), 12),
    aggregation = 'sum', sum({{ daily }}.value_sum),
    aggregation = 'max', max({{ daily }}.value_max),
    aggregation = 'latest', argMax({{ daily }}.latest_value, ({{ daily }}.latest_timestamp, {{ daily }}.latest_event_id)),
    {%- if nearest_rank %}
    aggregation = 'percentile', {{ nearest_rank }},
    {%- endif %}
    toDecimal128(uniqExactMerge({{ daily }}.distinct_values), 12)
)
{%- endmacro %}
