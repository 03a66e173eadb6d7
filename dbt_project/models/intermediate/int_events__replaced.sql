-- Events that stop counting because of corrections (CONTRACT.md §1, docs/invoicing.md).
-- Every correction stands for one original event (`corrects`, recorded by the loader; for
-- stores from before it was recorded, the event named by `replaces`). The original never
-- counts once corrected, and of its corrections only the one ingested last does: a chain
-- B -> A, C -> B and two corrections B -> A, C -> A both leave C alone. Corrections are
-- rare, so these sets stay small whatever the event volume.
with

corrections as (
    select
        customer_id,
        event_id,
        coalesce(corrects_event_id, replaces_event_id) as original_event_id,
        (load_seq, line_no) as ingested
    from {{ ref('stg_billing__events') }}
    where replaces_event_id is not null
),

latest as (
    select
        customer_id,
        original_event_id,
        argMax(event_id, ingested) as standing_event_id
    from corrections
    group by customer_id, original_event_id
)

select customer_id, assumeNotNull(original_event_id) as event_id from latest
union all
select corrections.customer_id, corrections.event_id
from corrections
inner join latest
    on corrections.customer_id = latest.customer_id
    and corrections.original_event_id = latest.original_event_id
where corrections.event_id != latest.standing_event_id
