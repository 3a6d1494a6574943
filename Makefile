# The two commands a newcomer types: `make demo` and `make test`. Both set up .venv first
# (idempotent: each step reruns only when its inputs changed).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Every DDS participant started from here stays on loopback, in its own domain.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export ROS_DOMAIN_ID ?= 42
# Project-internal folder beside the repository: the real ROS 2 launch/CLI tools and the
# interface packages they and the yolo_ros/ROS4HRI inputs need (scripts/setup_ros_tools.sh).
SHARED ?= ../shared

RUNTIME_SRC := $(shell find src/pose_lifter -name '*.py' -o -name '*.xml' -o -name '*.cfg') \
	$(wildcard src/pose_lifter/resource/*) \
	$(wildcard launch/*.py config/*.yaml config/*.rviz models/*.onnx models/*.md models/*.npz)
TRAINING_SRC := $(shell find training -name '*.py' -o -name '*.toml' -o -name '*.yaml')

.PHONY: setup test demo lint bench clean
setup: $(VENV)/.installed

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.deps: requirements.txt | $(VENV)/bin/python
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $(VENV)/COLCON_IGNORE  # its share/*/package.xml are not workspace packages
	touch $@

$(VENV)/.msgs: $(VENV)/.deps scripts/build_msgs.sh scripts/fix_ros_wheels.py \
		$(shell find src/pose_lifter_msgs -type f)
	VENV=$(VENV) bash scripts/build_msgs.sh
	touch $@

# Without $(SHARED) the script prints one line and the stamp is not made: it runs (and says so)
# on every `make`, and installs the tools as soon as the folder appears.
$(VENV)/.ros_tools: $(VENV)/.msgs scripts/setup_ros_tools.sh scripts/interface_pyproject.py \
		$(wildcard $(SHARED)/ros-wheels/*.whl) $(shell find $(SHARED)/ros-src -type f 2>/dev/null)
	VENV=$(VENV) SHARED=$(SHARED) bash scripts/setup_ros_tools.sh
	if [ -d $(SHARED)/ros-wheels ] && [ -d $(SHARED)/ros-src ]; then touch $@; fi

$(VENV)/.installed: $(VENV)/.msgs $(RUNTIME_SRC) $(TRAINING_SRC) | $(VENV)/.ros_tools
	$(PIP) install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
		./src/pose_lifter ./training
	touch $@

test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

DEMO := out/demo
# The main job: accuracy on the shipped demo poses, then the same clips as a rosbag (COCO-17
# keypoints with detector-like noise, 2 persons a frame, 10 % corrupted skeletons) replayed
# through the live node and scored.
demo: setup
	@echo '== accuracy on the demo poses (test subject 07, 8 fixed cameras, 10 fps) =='
	$(VENV)/bin/pose-lifter eval --data models/demo_poses.npz --table
	@echo '== rosbag replay through the live node =='
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(VENV)/bin/pose-lifter bag make models/demo_poses.npz --out $(DEMO)/input \
		--joint-format coco17 --noise-px 1.5 --persons 2 --corrupt-prob 0.1 --fps 15
	$(VENV)/bin/pose-lifter bag replay $(DEMO)/input --out $(DEMO)/replay
	$(VENV)/bin/pose-lifter bag score $(DEMO)/replay --report $(DEMO)/report \
		--json $(DEMO)/report/score.json

bench: setup
	$(VENV)/bin/pose-lifter bench --json bench.json

clean:
	rm -rf $(VENV) build install log out

# Training data (docs/data.md). On the project's machines: a link to the converted CMU file in
# ../shared. Elsewhere: where the BVH files come from and the command that converts them.
POSE_DATA := data/cmu_mocap_h36m17.npz
POSE_DATA_SHARED := $(or $(SHARED),../shared)/data/cmu_mocap_h36m17.npz
.PHONY: data
data:
	@if [ -f $(POSE_DATA) ]; then echo "$(POSE_DATA) is there"; \
	elif [ -f $(POSE_DATA_SHARED) ]; then mkdir -p data && \
		ln -sfn $(abspath $(POSE_DATA_SHARED)) $(POSE_DATA) && \
		echo "$(POSE_DATA) -> $(abspath $(POSE_DATA_SHARED))"; \
	else \
		echo "$(POSE_DATA) is missing; build it from CMU motion capture (docs/data.md):"; \
		echo "  1. download the BVH conversion of mocap.cs.cmu.edu (cgspeed.com, the"; \
		echo "     MotionBuilder-friendly release) and unpack the subjects' folders into data/cmu-bvh/"; \
		echo "  2. make setup && $(VENV)/bin/pose-lifter-train convert-bvh data/cmu-bvh --rig cmu \\"; \
		echo "       --out $(POSE_DATA)"; \
		exit 1; \
	fi
