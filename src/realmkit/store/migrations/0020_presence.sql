-- Presence: who is online and on which map, told as it changes. Every path that
-- seats a character, moves it or logs it out changes its row in
-- characters.player_assignments; this trigger is the one place that sees them all
-- and notifies channel `realmkit_presence` (gateways LISTEN and tell the friends and
-- guild mates they hold). A player whose gateway died stays in_world until the
-- orchestrators' leader releases it after its resume grace: it shows offline then.
-- Crossing a cell border or a transfer within a map notifies nothing.

CREATE FUNCTION characters.notify_presence() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was_online boolean := TG_OP = 'UPDATE' AND OLD.state <> 'offline';
    is_online  boolean := NEW.state <> 'offline';
    old_map    integer;
    new_map    integer;
    who        record;
BEGIN
    IF is_online THEN
        SELECT map_id INTO new_map FROM characters.instances WHERE instance_id = NEW.instance_id;
    END IF;
    IF was_online THEN
        IF OLD.instance_id IS NOT DISTINCT FROM NEW.instance_id AND is_online THEN
            RETURN NULL;
        END IF;
        SELECT map_id INTO old_map FROM characters.instances WHERE instance_id = OLD.instance_id;
    END IF;
    IF was_online = is_online AND old_map IS NOT DISTINCT FROM new_map THEN
        RETURN NULL;
    END IF;
    SELECT name, realm_id INTO who FROM characters.characters WHERE character_id = NEW.character_id;
    PERFORM pg_notify('realmkit_presence', json_build_object(
        'c', NEW.character_id, 'n', who.name, 'r', who.realm_id,
        'o', is_online, 'm', coalesce(new_map, -1))::text);
    RETURN NULL;
END $$;

CREATE TRIGGER player_assignments_presence
    AFTER INSERT OR UPDATE OF state, instance_id ON characters.player_assignments
    FOR EACH ROW EXECUTE FUNCTION characters.notify_presence();
