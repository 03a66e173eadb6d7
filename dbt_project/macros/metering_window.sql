{% macro metering_window(date_column, widen_days=0) -%}
{#-
  The days of this metering run, set by Dagster from the partition (or partition range) it
  runs, as environment variables (billing_dagster/metering/window.py) so that dbt keeps
  its partial parse. The defaults are wide on purpose: a plain `dbt build` from a shell
  meters all history.
  `widen_days` widens it on both sides.
-#}
{{ date_column }} between toDate('{{ env_var("BILLING_METERING_MIN_DATE", "2020-01-01") }}') - {{ widen_days }} and toDate('{{ env_var("BILLING_METERING_MAX_DATE", "2099-12-31") }}') + {{ widen_days }}
{%- endmacro %}
