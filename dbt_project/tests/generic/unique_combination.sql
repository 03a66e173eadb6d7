{% test unique_combination(model, columns) %}
{#- No row shares all of `columns` with another row (dbt_utils is not reachable offline). -#}
select {{ columns | join(', ') }}, count() as copies
from {{ model }}
group by {{ columns | join(', ') }}
having copies > 1
{% endtest %}
