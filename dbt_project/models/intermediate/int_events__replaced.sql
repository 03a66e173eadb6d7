-- Events that a later correction names in `replaces`: they stop counting (CONTRACT.md §1).
-- Corrections are rare, so this set stays small whatever the event volume.
select distinct
    customer_id,
    assumeNotNull(replaces_event_id) as event_id
from {{ ref('stg_billing__events') }}
where replaces_event_id is not null
