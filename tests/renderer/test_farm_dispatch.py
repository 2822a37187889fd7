"""Which Ray actor a ready job goes to (renderer.pipeline.farm), decided without Ray."""

from types import SimpleNamespace

from renderer.pipeline.farm import RayRenders


def _farm(slots=2, rendered_by=None):
    farm = RayRenders.__new__(RayRenders)  # no Ray: only the choice is under test
    farm.options = SimpleNamespace(in_flight_per_slot=slots)
    farm._rendered_by = dict(rendered_by or {})
    return farm


def test_a_job_goes_to_the_actor_that_rendered_its_parent_unless_it_is_busier_by_more_than_one_call():
    farm = _farm(slots=3, rendered_by={7: 1})
    assert farm._choose(7, [0, 1], [0, 1], {}) == 1  # one call more than the least busy: still its parent's
    assert farm._choose(7, [0, 1], [0, 2], {}) == 0  # two more: the least busy
    assert farm._choose(8, [0, 1], [1, 0], {}) == 1  # a token no actor rendered: the least busy
    assert farm._choose(7, [0, 1], [0, 1], {1: ["a job"]}) == 0  # its open call counts as one more


def test_no_actor_is_chosen_past_its_calls_in_flight_or_when_it_is_not_live():
    farm = _farm(slots=2, rendered_by={7: 1})
    assert farm._choose(7, [0, 1], [1, 2], {}) == 0  # the parent's actor has all its calls out
    assert farm._choose(7, [0], [0, 0], {}) == 0  # the parent's actor is failing or being probed
    assert farm._choose(7, [0, 1], [2, 2], {}) is None
    assert farm._choose(7, [0, 1], [2, 2], {1: ["a job"]}) == 1  # a call still filling takes more jobs
