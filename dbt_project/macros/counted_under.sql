{% macro counted_under(subscription_id, metric_code) -%}
{#- Whether the metric counts under the subscription: always, unless the subscription
    overlaps another of its customer's (several products at once), then only the metrics its
    plan charges or its features count. Reads the model's `concurrent` and `own_metrics`. -#}
(
    {{ subscription_id }} not in (select subscription_id from concurrent)
    or ({{ subscription_id }}, {{ metric_code }}) in (select * from own_metrics)
)
{%- endmacro %}
