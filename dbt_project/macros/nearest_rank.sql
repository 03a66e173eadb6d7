{% macro nearest_rank(values, count, percentile) -%}
{#-
  The nearest-rank percentile (docs/invoicing.md) of `count` values: `values` and, for the
  rest, zeros (empty buckets); the ceil(p / 100 x count)-th smallest, p in whole millionths
  so the rank is exact. A count of 0 gives 0.
-#}
arraySort(arrayConcat(
    {{ values }},
    arrayWithConstant(greatest(toInt64({{ count }}) - length({{ values }}), 0), toDecimal128(0, 12))
))[intDiv(toUInt64(toDecimal128({{ percentile }}, 6) * 1000000) * ({{ count }}) + 99999999, 100000000)]
{%- endmacro %}
