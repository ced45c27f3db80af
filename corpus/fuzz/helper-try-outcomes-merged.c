/* rmaplint-fuzz: {"helpers":[{"ret":"bool","body":[["probe",1],["op","down_read"],["probe",2],["op","down_read"],["probe",3],["op","down_write"],["probe",4]],"try":"down_write_killable"}],"body":[["probe",5],["while",["call",0,false],[["probe",6]]],["probe",7]],"epilogue":[["out",[["probe",8]]]]} */
/* Found by tests/test_fuzz_soundness.py (hypothesis, seed 7). helper0() returns down_write_killable() of a rwsem it already holds for write: both outcomes leave it held, so its summary is one case; that case kept the truth of the first outcome, and the caller's loop exit (helper0() returned 0) was unreachable. */
static bool helper0(struct foo *x, struct bar *y, struct baz *z)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	int n = 8;

	probe(1);
	down_read(&z->sem);
	probe(2);
	down_read(&z->sem);
	probe(3);
	down_write(&z->sem);
	probe(4);
	return down_write_killable(&z->sem);
}

int fuzz(struct foo *a, struct bar *b, struct baz *c, int n)
{
	int ret = 0;
	unsigned long flags;
	struct item *pos;
	int i;
	struct foo *p = a;

	probe(5);
	while (helper0(a, b, c)) {
		probe(6);
	}
	probe(7);
out:
	probe(8);
	return ret;
}
