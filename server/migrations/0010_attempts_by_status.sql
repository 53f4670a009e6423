-- Every server looks for unfinished attempts at each heartbeat (a few seconds apart) and at
-- each janitor pass: found by their status, not by reading every attempt ever stored.
CREATE INDEX attempts_by_status ON attempts(status);
